import { describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import EditTokenModal, { type EditableToken } from "./EditTokenModal";
import { ApiError } from "../lib/api";
import { endOfDayUnix } from "../lib/dates";

const TOKEN: EditableToken = {
  tokenUUID: "00000000-0000-4000-8000-000000000001",
  name: "ci",
  username: "jane",
  tokenExpiration: endOfDayUnix("2099-03-01", "UTC"),
  limits: { requestsPerMinute: 60 },
  effectiveLimits: { requestsPerMinute: 60, tokensPerDay: 100000 },
};

function setup(token: EditableToken = TOKEN, { canRaiseLimits = true, onSave = vi.fn().mockResolvedValue(undefined) } = {}) {
  render(<EditTokenModal token={token} timeZone="UTC" canRaiseLimits={canRaiseLimits} onCancel={() => undefined} onSave={onSave} />);
  return { onSave, dialog: screen.getByRole("dialog") };
}

function type(dialog: HTMLElement, label: string, value: string) {
  fireEvent.change(within(dialog).getByLabelText(label), { target: { value } });
}

async function save(dialog: HTMLElement) {
  await act(async () => {
    fireEvent.click(within(dialog).getByRole("button", { name: "Save changes" }));
  });
}

describe("EditTokenModal: limits", () => {
  it("shows the token's own limits and the effective ones as hints", () => {
    const { dialog } = setup();
    expect((within(dialog).getByLabelText("Requests per minute") as HTMLInputElement).value).toBe("60");
    expect((within(dialog).getByLabelText("Model tokens per day") as HTMLInputElement).value).toBe("");
    expect(within(dialog).getByText("Now 100,000")).toBeTruthy();
    expect(within(dialog).getAllByText("Now no limit").length).toBe(4);
  });

  it("sends only the limits when only they changed, as the complete new set", async () => {
    const { dialog, onSave } = setup();
    type(dialog, "Model tokens per day", "5000");
    type(dialog, "Budget per month", "12.5");
    await save(dialog);
    expect(onSave).toHaveBeenCalledWith(TOKEN.tokenUUID, { limits: { requestsPerMinute: 60, tokensPerDay: 5000, budgetPerMonth: 12.5 } });
  });

  it("sends no limits when only the name changed", async () => {
    const { dialog, onSave } = setup();
    type(dialog, "Token name", "ci 2");
    await save(dialog);
    expect(onSave).toHaveBeenCalledWith(TOKEN.tokenUUID, { name: "ci 2" });
  });

  it("clears the token's own limits with Use the defaults (null)", async () => {
    const { dialog, onSave } = setup();
    await act(async () => {
      fireEvent.click(within(dialog).getByRole("button", { name: "Use the defaults" }));
    });
    expect((within(dialog).getByLabelText("Requests per minute") as HTMLInputElement).value).toBe("");
    await save(dialog);
    expect(onSave).toHaveBeenCalledWith(TOKEN.tokenUUID, { limits: null });
  });

  it("refuses values that are not whole numbers of at least 1, or a budget of 0", async () => {
    const { dialog, onSave } = setup();
    type(dialog, "Requests per hour", "0");
    type(dialog, "Requests per day", "2.5");
    type(dialog, "Budget per month", "0");
    await save(dialog);
    expect(onSave).not.toHaveBeenCalled();
    expect(within(dialog).getAllByText("Enter a whole number of at least 1, or leave it empty.").length).toBe(2);
    expect(within(dialog).getByText("Enter an amount greater than 0, e.g. 25 or 12.50, or leave it empty.")).toBeTruthy();
    expect(within(dialog).getByLabelText("Requests per hour").getAttribute("aria-invalid")).toBe("true");
  });

  it("lets a user only lower the limits of their own token", async () => {
    const { dialog, onSave } = setup(TOKEN, { canRaiseLimits: false });
    expect(within(dialog).getByText(/only an administrator can raise them/)).toBeTruthy();
    type(dialog, "Requests per minute", "120");
    await save(dialog);
    expect(onSave).not.toHaveBeenCalled();
    expect(within(dialog).getByText("You can only lower this limit: at most 60.")).toBeTruthy();
    type(dialog, "Requests per minute", "30");
    await save(dialog);
    expect(onSave).toHaveBeenCalledWith(TOKEN.tokenUUID, { limits: { requestsPerMinute: 30 } });
  });

  it("shows the API's limits_raised message on the field it names", async () => {
    const msg = "limits.tokensPerDay may not be raised above your defaults";
    const onSave = vi.fn().mockRejectedValue(new ApiError(400, msg, "limits_raised"));
    const { dialog } = setup(TOKEN, { canRaiseLimits: false, onSave });
    type(dialog, "Model tokens per day", "50");
    await save(dialog);
    expect(within(dialog).getAllByText(msg).length).toBe(2); // the alert and the field
    expect(within(dialog).getByLabelText("Model tokens per day").getAttribute("aria-invalid")).toBe("true");
    expect(within(dialog).getByLabelText("Requests per minute").getAttribute("aria-invalid")).not.toBe("true");
  });

  it("puts a limits_raised message naming no field on the fields that changed", async () => {
    const msg = "limits may not be raised";
    const onSave = vi.fn().mockRejectedValue(new ApiError(400, msg, "limits_raised"));
    const { dialog } = setup(TOKEN, { canRaiseLimits: false, onSave });
    await act(async () => {
      fireEvent.click(within(dialog).getByRole("button", { name: "Use the defaults" }));
    });
    await save(dialog);
    expect(onSave).toHaveBeenCalledWith(TOKEN.tokenUUID, { limits: null });
    expect(within(dialog).getByLabelText("Requests per minute").getAttribute("aria-invalid")).toBe("true");
  });

  it("offers no limits against an API that reports none", () => {
    const { dialog } = setup({ ...TOKEN, limits: undefined, effectiveLimits: undefined });
    expect(within(dialog).queryByLabelText("Requests per minute")).toBeNull();
    expect(within(dialog).queryByRole("button", { name: "Use the defaults" })).toBeNull();
  });
});
