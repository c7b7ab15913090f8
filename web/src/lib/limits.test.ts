import { describe, expect, it } from "vitest";
import {
  EMPTY_LIMIT_VALUES,
  LIMIT_FIELDS,
  limitFieldForMessage,
  limitLines,
  limitProblem,
  limitsFromValues,
  limitsPatch,
  limitsProblems,
  limitValuesOf,
  raisedFields,
} from "./limits";

const spec = (key: string) => LIMIT_FIELDS.find((f) => f.key === key)!;

describe("limit validation", () => {
  it("takes whole numbers of at least 1 for request and token limits", () => {
    for (const ok of ["", " ", "1", "60", " 1000 "]) expect(limitProblem(spec("requestsPerMinute"), ok)).toBeUndefined();
    for (const bad of ["0", "-1", "1.5", "abc", "1e3", "99999999999999999999"]) expect(limitProblem(spec("tokensPerDay"), bad)).toBeTruthy();
  });

  it("takes a budget greater than 0, with decimals", () => {
    for (const ok of ["25", "12.50", "0.01", ".5"]) expect(limitProblem(spec("budgetPerMonth"), ok)).toBeUndefined();
    for (const bad of ["0", "0.0", "-3", "x", "1,5"]) expect(limitProblem(spec("budgetPerMonth"), bad)).toBeTruthy();
  });

  it("reports every bad field", () => {
    expect(Object.keys(limitsProblems({ ...EMPTY_LIMIT_VALUES, requestsPerHour: "0", budgetPerMonth: "-1" }))).toEqual(["requestsPerHour", "budgetPerMonth"]);
  });
});

describe("limitsPatch", () => {
  const own = { requestsPerMinute: 60, budgetPerMonth: 25 };

  it("sends nothing when the limits did not change", () => {
    expect(limitsPatch(own, limitValuesOf(own))).toBeUndefined();
    expect(limitsPatch(undefined, EMPTY_LIMIT_VALUES)).toBeUndefined();
    expect(limitsPatch(own, { ...limitValuesOf(own), requestsPerMinute: " 60 " })).toBeUndefined();
  });

  it("sends the complete new set when one changed (the API replaces the token's own)", () => {
    expect(limitsPatch(own, { ...limitValuesOf(own), tokensPerDay: "100000" })).toEqual({ requestsPerMinute: 60, tokensPerDay: 100000, budgetPerMonth: 25 });
    expect(limitsPatch(undefined, { ...EMPTY_LIMIT_VALUES, requestsPerDay: "500" })).toEqual({ requestsPerDay: 500 });
  });

  it("sends null when every field was cleared", () => {
    expect(limitsPatch(own, EMPTY_LIMIT_VALUES)).toBeNull();
  });

  it("leaves empty fields out of a create", () => {
    expect(limitsFromValues(EMPTY_LIMIT_VALUES)).toBeUndefined();
    expect(limitsFromValues({ ...EMPTY_LIMIT_VALUES, budgetPerMonth: "12.5" })).toEqual({ budgetPerMonth: 12.5 });
  });
});

describe("raisedFields", () => {
  it("flags a value above the effective limit, not one below or a field without a limit", () => {
    const eff = { requestsPerMinute: 60, tokensPerDay: 1000 };
    const errs = raisedFields(eff, { ...EMPTY_LIMIT_VALUES, requestsPerMinute: "61", tokensPerDay: "10", requestsPerDay: "5" });
    expect(Object.keys(errs)).toEqual(["requestsPerMinute"]);
    expect(errs.requestsPerMinute).toBe("You can only lower this limit: at most 60.");
    expect(raisedFields(undefined, { ...EMPTY_LIMIT_VALUES, requestsPerMinute: "61" })).toEqual({});
  });
});

describe("formatting and messages", () => {
  it("shows each set limit with its unit", () => {
    expect(limitLines({ requestsPerMinute: 1000, budgetPerMonth: 25 })).toEqual(["1,000 requests / minute", "25.00 per month"]);
    expect(limitLines(undefined)).toEqual([]);
  });

  it("finds the field an API message names", () => {
    expect(limitFieldForMessage("limits.tokensPerDay may not be raised above 1000")).toBe("tokensPerDay");
    expect(limitFieldForMessage("limits may not be raised")).toBeUndefined();
  });
});
