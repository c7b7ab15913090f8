// Edits a token's name, expiration and limits. Only the fields that changed
// are sent, so a concurrent change to another one is not overwritten. The
// limits are offered only when the API reports them (older servers do not).
import { useEffect, useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import ConfirmModal, { useConfirmAction } from "./ConfirmModal";
import LimitsFields from "./LimitsFields";
import ExpirationField, { expirationProblem, normalizeDate } from "./ExpirationField";
import { errorMessage, type TokenPatch } from "../lib/api";
import { endOfDayUnix, todayIn } from "../lib/dates";
import { fieldForMessage } from "../lib/errors";
import {
  EMPTY_LIMIT_VALUES,
  hasProblems,
  isLimitsMessage,
  LIMIT_FIELDS,
  limitFieldForMessage,
  limitsPatch,
  limitsProblems,
  limitValuesOf,
  raisedFields,
  type LimitErrors,
  type LimitValues,
} from "../lib/limits";
import type { TokenItem } from "../lib/tokens";
import { nameProblem } from "../lib/validation";

export type EditableToken = Pick<TokenItem, "tokenUUID" | "name" | "username" | "tokenExpiration"> &
  Partial<Pick<TokenItem, "limits" | "effectiveLimits">>;

/** Whether the API this token came from knows limits (it reports the effective ones). */
export function supportsLimits(t: Partial<Pick<TokenItem, "limits" | "effectiveLimits">>): boolean {
  return t.effectiveLimits !== undefined || t.limits !== undefined;
}

/** The calendar day ("YYYY-MM-DD") a token expires on in timeZone. */
export function expirationDateOf(tokenExpiration: number, timeZone: string): string {
  return todayIn(timeZone, tokenExpiration * 1000);
}

/**
 * The PATCH body for the form's values: the name when it changed, the expiry
 * when the day changed (the same day keeps the exact expiry the token has).
 */
export function editPatch(token: EditableToken, name: string, date: string, timeZone: string): TokenPatch {
  const patch: TokenPatch = {};
  if (name.trim() !== (token.name ?? "")) patch.name = name.trim();
  const d = normalizeDate(date);
  if (d !== expirationDateOf(token.tokenExpiration, timeZone)) patch.tokenExpiration = endOfDayUnix(d, timeZone);
  return patch;
}

export const NOTHING_CHANGED = "Change the name or the expiration date first.";
export const NOTHING_CHANGED_WITH_LIMITS = "Change the name, the expiration date or the limits first.";

export interface EditTokenModalProps {
  token: EditableToken | null;
  timeZone: string;
  /** Admins may set any limits; a user may only lower those of their own token. */
  canRaiseLimits?: boolean;
  onCancel: () => void;
  /** Sends the change; a rejection is shown in the dialog. */
  onSave: (tokenUUID: string, patch: TokenPatch) => Promise<void>;
}

export default function EditTokenModal({ token, timeZone, canRaiseLimits = false, onCancel, onSave }: EditTokenModalProps) {
  const [name, setName] = useState("");
  const [date, setDate] = useState("");
  const [nameError, setNameError] = useState<string>();
  const [dateError, setDateError] = useState<string>();
  const [limitValues, setLimitValues] = useState<LimitValues>(EMPTY_LIMIT_VALUES);
  const [limitErrors, setLimitErrors] = useState<LimitErrors>({});
  const action = useConfirmAction();
  const { busy, setError } = action;

  useEffect(() => {
    if (!token) return;
    setName(token.name ?? "");
    setDate(expirationDateOf(token.tokenExpiration, timeZone));
    setNameError(undefined);
    setDateError(undefined);
    setLimitValues(limitValuesOf(token.limits));
    setLimitErrors({});
    setError(undefined);
  }, [token?.tokenUUID, timeZone]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!token) return null;
  const withLimits = supportsLimits(token);

  // Runs as the dialog's action: a problem with the fields is shown on them
  // and nothing is sent; the API's refusal is shown on the fields it names
  // as well as in the dialog's alert.
  const save = async () => {
    const patch = editPatch(token, name, date, timeZone);
    const nErr = patch.name !== undefined ? nameProblem(name) : undefined;
    const dErr = patch.tokenExpiration !== undefined || !normalizeDate(date) ? expirationProblem(date, timeZone) : undefined;
    let lErrs: LimitErrors = {};
    if (withLimits) {
      lErrs = limitsProblems(limitValues);
      if (!canRaiseLimits && !hasProblems(lErrs)) lErrs = raisedFields(token.effectiveLimits, limitValues);
      const lp = limitsPatch(token.limits, limitValues);
      if (lp !== undefined) patch.limits = lp;
    }
    setNameError(nErr);
    setDateError(dErr);
    setLimitErrors(lErrs);
    if (nErr || dErr || hasProblems(lErrs)) return;
    if (Object.keys(patch).length === 0) {
      setError(withLimits ? NOTHING_CHANGED_WITH_LIMITS : NOTHING_CHANGED);
      return;
    }
    try {
      await onSave(token.tokenUUID, patch);
    } catch (err) {
      const msg = errorMessage(err);
      const f = fieldForMessage(msg);
      if (f === "name") setNameError(msg);
      if (f === "expiration") setDateError(msg);
      const code = (err as { code?: string }).code;
      if (withLimits && patch.limits !== undefined && isLimitsMessage(msg, code)) {
        // On the field the message names, else on every field that changed.
        const named = limitFieldForMessage(msg);
        const own = limitValuesOf(token.limits);
        const keys = named ? [named] : LIMIT_FIELDS.map((l) => l.key).filter((k) => limitValues[k].trim() !== own[k]);
        setLimitErrors(Object.fromEntries(keys.map((k) => [k, msg])));
      }
      throw err;
    }
  };

  return (
    <ConfirmModal
      header="Edit token"
      confirmLabel="Save changes"
      errorHeader="The token was not changed"
      onConfirm={save}
      onCancel={onCancel}
      size={withLimits ? "large" : "medium"}
      form
      spacing="l"
      action={action}
    >
      <Box variant="p">
        Token of {token.username} (<Box variant="code">{token.tokenUUID}</Box>).
      </Box>
      <FormField label="Token name" description="Up to 128 characters." errorText={nameError}>
        <Input
          value={name}
          onChange={({ detail }) => {
            setName(detail.value);
            setNameError(undefined);
          }}
          autoComplete={false}
        />
      </FormField>
      <ExpirationField
        value={date}
        onChange={(v) => {
          setDate(v);
          setDateError(undefined);
        }}
        timeZone={timeZone}
        errorText={dateError}
      />
      {withLimits && (
        <SpaceBetween size="s">
          <Header
            variant="h3"
            description={
              canRaiseLimits
                ? "Optional. An empty field uses the deployment's defaults for this token's groups."
                : "You can lower the limits of your token; only an administrator can raise them."
            }
            actions={
              <Button
                onClick={() => {
                  setLimitValues(EMPTY_LIMIT_VALUES);
                  setLimitErrors({});
                }}
                disabled={busy}
              >
                Use the defaults
              </Button>
            }
          >
            Limits
          </Header>
          <LimitsFields
            values={limitValues}
            effective={token.effectiveLimits}
            errors={limitErrors}
            disabled={busy}
            onChange={(k, v) => {
              setLimitValues((vs) => ({ ...vs, [k]: v }));
              setLimitErrors((es) => ({ ...es, [k]: undefined }));
            }}
          />
        </SpaceBetween>
      )}
    </ConfirmModal>
  );
}
