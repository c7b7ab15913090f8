import { describe, expect, it } from "vitest";
import { isAdminOnly, navigationItems } from "./nav";
import { ROUTES } from "./router";

const texts = (items: ReturnType<typeof navigationItems>) => items.map((i) => ("text" in i ? i.text : ""));

describe("navigation", () => {
  it("shows Usage to admins only", () => {
    expect(texts(navigationItems(true, true))).toEqual(["API Token Management", "My API Token", "Usage", "Settings"]);
    expect(texts(navigationItems(false, true))).toEqual(["My API Token"]);
    expect(texts(navigationItems(false, false))).toEqual([]);
  });

  it("guards the usage overview like the other admin pages", () => {
    expect(isAdminOnly(ROUTES.usage)).toBe(true);
    expect(isAdminOnly(ROUTES.tokens)).toBe(true);
    expect(isAdminOnly(ROUTES.myToken)).toBe(false);
  });
});
