import { describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen } from "@testing-library/react";
import CreateTokenWizard, { parseGroups } from "./CreateTokenWizard";
import { ApiError } from "../lib/api";
import { endOfDayUnix } from "../lib/dates";

function type(label: string, value: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

async function click(name: string) {
  await act(async () => {
    fireEvent.click(screen.getByRole("button", { name }));
  });
}

describe("parseGroups", () => {
  it("splits, trims and drops empties and repeats", () => {
    expect(parseGroups(" developers, lisa-api-users,,developers ")).toEqual(["developers", "lisa-api-users"]);
    expect(parseGroups("")).toEqual([]);
  });
});

describe("CreateTokenWizard", () => {
  it("sends the request and puts an API error on the field it names", async () => {
    const create = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(400, "username must not contain whitespace, control characters or '/'"))
      .mockRejectedValueOnce(new ApiError(400, "groups[0] must be at most 256 printable characters"))
      .mockResolvedValueOnce({ token: "t" });
    const onCreated = vi.fn();
    render(<CreateTokenWizard timeZone="Europe/Berlin" create={create} onCreated={onCreated} onCancel={() => undefined} />);

    type("Username", "johndoe");
    type("Token name", "CI token");
    fireEvent.click(screen.getByLabelText("System token"));
    await click("Next");
    type("Groups", "developers, lisa-api-users");
    type("Expiration date", "2099/03/01");
    await click("Next");
    expect(screen.getByText("2099-03-01 23:59:59 Europe/Berlin")).toBeTruthy();
    await click("Create");

    expect(create).toHaveBeenCalledWith("johndoe", {
      name: "CI token",
      groups: ["developers", "lisa-api-users"],
      isSystemToken: true,
      tokenExpiration: endOfDayUnix("2099-03-01", "Europe/Berlin"),
    });
    // Back on "Basic information", with the message in an alert and on Username.
    expect(screen.getAllByText("username must not contain whitespace, control characters or '/'").length).toBeGreaterThanOrEqual(2);
    expect(screen.getByLabelText("Username").getAttribute("aria-invalid")).toBe("true");

    await click("Next");
    await click("Next");
    await click("Create");
    expect(screen.getByLabelText("Groups").getAttribute("aria-invalid")).toBe("true");

    await click("Next");
    await click("Create");
    expect(onCreated).toHaveBeenCalledWith({ token: "t" });
  });

  it("checks required fields before moving on", async () => {
    const create = vi.fn();
    render(<CreateTokenWizard timeZone="UTC" create={create} onCreated={() => undefined} onCancel={() => undefined} />);
    await click("Next");
    expect(screen.getByText("Enter the username the token is for.")).toBeTruthy();
    expect(screen.getByText("Enter a token name.")).toBeTruthy();
    expect(create).not.toHaveBeenCalled();
  });
});

describe("CreateTokenWizard: limits", () => {
  it("sends the limits that are set, with the right types, and shows them in the review", async () => {
    const create = vi.fn().mockResolvedValue({ token: "t" });
    render(<CreateTokenWizard timeZone="UTC" create={create} onCreated={() => undefined} onCancel={() => undefined} />);
    type("Username", "johndoe");
    type("Token name", "CI token");
    await click("Next");
    type("Expiration date", "2099/03/01");
    type("Requests per minute", "60");
    type("Model tokens per month", "1000000");
    type("Budget per month", "12.5");
    await click("Next");
    expect(screen.getByText("60 requests / minute, 1,000,000 tokens / month, 12.50 per month")).toBeTruthy();
    await click("Create");
    expect(create.mock.calls[0][1].limits).toEqual({ requestsPerMinute: 60, tokensPerMonth: 1000000, budgetPerMonth: 12.5 });
  });

  it("refuses bad limits before moving on, and sends no limits when none is set", async () => {
    const create = vi.fn().mockResolvedValue({ token: "t" });
    render(<CreateTokenWizard timeZone="UTC" create={create} onCreated={() => undefined} onCancel={() => undefined} />);
    type("Username", "johndoe");
    type("Token name", "CI token");
    await click("Next");
    type("Requests per day", "0");
    type("Budget per month", "0");
    await click("Next");
    expect(screen.getByLabelText("Requests per day").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("Enter an amount greater than 0, e.g. 25 or 12.50, or leave it empty.")).toBeTruthy();
    type("Requests per day", "");
    type("Budget per month", "");
    await click("Next");
    expect(screen.getByText("The deployment's defaults")).toBeTruthy();
    await click("Create");
    expect(create.mock.calls[0][1]).not.toHaveProperty("limits");
  });

  it("puts an API error about a limit on that field", async () => {
    const create = vi.fn().mockRejectedValueOnce(new ApiError(400, "limits.requestsPerHour must be at least 1"));
    render(<CreateTokenWizard timeZone="UTC" create={create} onCreated={() => undefined} onCancel={() => undefined} />);
    type("Username", "johndoe");
    type("Token name", "CI token");
    await click("Next");
    type("Requests per hour", "5");
    await click("Next");
    await click("Create");
    expect(screen.getByLabelText("Requests per hour").getAttribute("aria-invalid")).toBe("true");
  });
});
