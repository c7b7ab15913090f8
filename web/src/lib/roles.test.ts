import { describe, expect, it } from "vitest";
import { claimAt, groupsFrom, rolesFrom, usernameFrom } from "./roles";

describe("claimAt", () => {
  it("reads a literal key, also one with a colon or dots", () => {
    expect(claimAt({ "cognito:groups": ["a"] }, "cognito:groups")).toEqual(["a"]);
    expect(claimAt({ "https://example.com/groups": ["x"] }, "https://example.com/groups")).toEqual(["x"]);
  });
  it("follows a dotted path", () => {
    expect(claimAt({ realm_access: { roles: ["r"] } }, "realm_access.roles")).toEqual(["r"]);
    expect(claimAt({ a: { b: { c: 1 } } }, "a.b.c")).toBe(1);
    expect(claimAt({ a: { b: 1 } }, "a.b.c")).toBeUndefined();
    expect(claimAt({ a: null }, "a.b")).toBeUndefined();
    expect(claimAt(undefined, "a")).toBeUndefined();
  });
});

describe("groupsFrom", () => {
  it("takes arrays of strings and strings", () => {
    expect(groupsFrom(["a", 1, "", "b"])).toEqual(["a", "b"]);
    expect(groupsFrom("a b,c")).toEqual(["a", "b", "c"]);
    expect(groupsFrom(undefined)).toEqual([]);
    expect(groupsFrom({})).toEqual([]);
  });
});

describe("rolesFrom", () => {
  it("finds admins and API users", () => {
    expect(rolesFrom({ groups: ["lisa-admins"] }, "groups", "lisa-admins", "lisa-api-users")).toEqual({
      groups: ["lisa-admins"],
      isAdmin: true,
      isApiUser: true,
    });
    expect(rolesFrom({ groups: ["lisa-api-users"] }, "groups", "lisa-admins", "lisa-api-users")).toMatchObject({ isAdmin: false, isApiUser: true });
    expect(rolesFrom({ groups: ["lisa-users"] }, "groups", "lisa-admins", "lisa-api-users")).toMatchObject({ isAdmin: false, isApiUser: false });
    expect(rolesFrom({}, "groups", "lisa-admins", "lisa-api-users")).toMatchObject({ isAdmin: false, isApiUser: false });
  });
  it("reads Cognito's and nested claims", () => {
    expect(rolesFrom({ "cognito:groups": ["admins"] }, "cognito:groups", "admins", "api")).toMatchObject({ isAdmin: true });
    expect(rolesFrom({ access: { groups: ["api"] } }, "access.groups", "admins", "api")).toMatchObject({ isAdmin: false, isApiUser: true });
  });
  it("never matches an empty group name", () => {
    expect(rolesFrom({ groups: ["x"] }, "groups", "", "")).toMatchObject({ isAdmin: false, isApiUser: false });
  });
});

describe("usernameFrom", () => {
  it("follows the token API's claim order", () => {
    expect(usernameFrom({ sub: "s", preferred_username: "p", username: "u", "cognito:username": "c" })).toBe("c");
    expect(usernameFrom({ sub: "s", preferred_username: "p", username: "u" })).toBe("u");
    expect(usernameFrom({ sub: "s", preferred_username: "p" })).toBe("p");
    expect(usernameFrom({ sub: "s", preferred_username: " " })).toBe("s");
    expect(usernameFrom({ sub: "s", email: "e" }, "email")).toBe("e");
  });
});
