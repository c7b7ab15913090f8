// The "Expiration date" field: a calendar day, and the exact moment the
// token will expire (23:59:59 that day in the user's zone).
import DatePicker from "@cloudscape-design/components/date-picker";
import FormField from "@cloudscape-design/components/form-field";
import { addDays, endOfDayUnix, formatWithZone, parseDate, todayIn } from "../lib/dates";

export const MAX_TOKEN_DAYS = 365;

/** "YYYY/MM/DD" (the picker's format) or "YYYY-MM-DD" to "YYYY-MM-DD". */
export function normalizeDate(value: string): string {
  return value.replace(/\//g, "-");
}

/** A message when date cannot be an expiration, else undefined. */
export function expirationProblem(date: string, timeZone: string, nowMs = Date.now()): string | undefined {
  const d = normalizeDate(date);
  if (!d) return "Choose an expiration date.";
  if (!parseDate(d)) return "Enter a date as YYYY/MM/DD.";
  if (endOfDayUnix(d, timeZone) * 1000 <= nowMs) return "Choose a date in the future.";
  return undefined;
}

export interface ExpirationFieldProps {
  value: string;
  onChange: (value: string) => void;
  timeZone: string;
  errorText?: string;
}

export default function ExpirationField({ value, onChange, timeZone, errorText }: ExpirationFieldProps) {
  const d = normalizeDate(value);
  const today = todayIn(timeZone);
  const last = addDays(today, MAX_TOKEN_DAYS);
  const at = parseDate(d) ? formatWithZone(endOfDayUnix(d, timeZone), timeZone) : undefined;
  return (
    <FormField
      label="Expiration date"
      description="The token expires at the end of this day in your time zone."
      constraintText={at ? `Expires ${at}` : "YYYY/MM/DD"}
      errorText={errorText}
    >
      <DatePicker
        value={value}
        onChange={({ detail }) => onChange(detail.value)}
        placeholder="YYYY/MM/DD"
        isDateEnabled={(date) => {
          const iso = `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
          return iso >= today && iso <= last;
        }}
      />
    </FormField>
  );
}
