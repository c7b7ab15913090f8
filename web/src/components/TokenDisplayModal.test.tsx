import { describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen } from "@testing-library/react";
import TokenDisplayModal, { tokenFileName } from "./TokenDisplayModal";
import type { CreatedToken } from "../lib/tokens";
import { NOT_SHOWN_AGAIN, SAVED_CHECKBOX } from "../messages";

const created: CreatedToken = {
  token: "ab".repeat(64),
  tokenUUID: "550e8400-e29b-41d4-a716-446655440000",
  tokenExpiration: 1798761600,
  createdDate: 1790000000,
  username: "johndoe",
  createdBy: "admin",
  createdVia: "jwt",
  name: "CI/CD Pipeline Token",
  groups: ["developers"],
  isSystemToken: false,
};

describe("TokenDisplayModal", () => {
  it("shows the token once and keeps Close disabled until the user confirms saving it", () => {
    const onClose = vi.fn();
    render(<TokenDisplayModal created={created} onClose={onClose} />);
    expect(screen.getByText(NOT_SHOWN_AGAIN)).toBeTruthy();
    const field = screen.getByLabelText("API token") as HTMLInputElement;
    expect(field.value).toBe(created.token);
    expect(field.readOnly).toBe(true);

    const close = screen.getByRole("button", { name: "Close" }) as HTMLButtonElement;
    expect(close.disabled).toBe(true);
    fireEvent.click(close);
    expect(onClose).not.toHaveBeenCalled();

    fireEvent.click(screen.getByRole("checkbox", { name: SAVED_CHECKBOX }));
    expect((screen.getByRole("button", { name: "Close" }) as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it("copies the token to the clipboard", async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    render(<TokenDisplayModal created={created} onClose={() => undefined} />);
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    });
    expect(writeText).toHaveBeenCalledWith(created.token);
    expect(screen.getByText("Copied")).toBeTruthy();
  });

  it("downloads api-token-<name>.txt", () => {
    const createObjectURL = vi.fn(() => "blob:x");
    URL.createObjectURL = createObjectURL;
    URL.revokeObjectURL = vi.fn();
    const clicks: string[] = [];
    const orig = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      clicks.push(this.download);
    };
    try {
      render(<TokenDisplayModal created={{ ...created, name: "laptop" }} onClose={() => undefined} />);
      fireEvent.click(screen.getByRole("button", { name: "Download" }));
      expect(clicks).toEqual(["api-token-laptop.txt"]);
      expect(createObjectURL).toHaveBeenCalledTimes(1);
    } finally {
      HTMLAnchorElement.prototype.click = orig;
    }
    expect(tokenFileName("CI/CD Pipeline Token")).toBe("api-token-CI_CD Pipeline Token.txt");
  });

  it("renders nothing without a token", () => {
    render(<TokenDisplayModal created={null} onClose={() => undefined} />);
    expect(screen.queryByText(NOT_SHOWN_AGAIN)).toBeNull();
  });
});
