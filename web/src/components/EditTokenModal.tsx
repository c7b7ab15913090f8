// Edits a token's name and expiration. Only the fields that changed are
// sent, so a concurrent change to the other one is not overwritten.
import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import ExpirationField, { expirationProblem, normalizeDate } from "./ExpirationField";
import { errorMessage, type TokenPatch } from "../lib/api";
import { endOfDayUnix, todayIn } from "../lib/dates";
import { fieldForMessage } from "../lib/errors";
import type { TokenItem } from "../lib/tokens";
import { nameProblem } from "../lib/validation";

export type EditableToken = Pick<TokenItem, "tokenUUID" | "name" | "username" | "tokenExpiration">;

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

export interface EditTokenModalProps {
  token: EditableToken | null;
  timeZone: string;
  onCancel: () => void;
  /** Sends the change; a rejection is shown in the dialog. */
  onSave: (tokenUUID: string, patch: TokenPatch) => Promise<void>;
}

export default function EditTokenModal({ token, timeZone, onCancel, onSave }: EditTokenModalProps) {
  const [name, setName] = useState("");
  const [date, setDate] = useState("");
  const [nameError, setNameError] = useState<string>();
  const [dateError, setDateError] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!token) return;
    setName(token.name ?? "");
    setDate(expirationDateOf(token.tokenExpiration, timeZone));
    setNameError(undefined);
    setDateError(undefined);
    setError(undefined);
  }, [token?.tokenUUID, timeZone]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!token) return null;

  const cancel = () => {
    if (!busy) onCancel();
  };
  const save = async () => {
    setError(undefined);
    const patch = editPatch(token, name, date, timeZone);
    const nErr = patch.name !== undefined ? nameProblem(name) : undefined;
    const dErr = patch.tokenExpiration !== undefined || !normalizeDate(date) ? expirationProblem(date, timeZone) : undefined;
    setNameError(nErr);
    setDateError(dErr);
    if (nErr || dErr) return;
    if (Object.keys(patch).length === 0) {
      setError(NOTHING_CHANGED);
      return;
    }
    setBusy(true);
    try {
      await onSave(token.tokenUUID, patch);
    } catch (err) {
      const msg = errorMessage(err);
      setError(msg);
      const f = fieldForMessage(msg);
      if (f === "name") setNameError(msg);
      if (f === "expiration") setDateError(msg);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      visible
      onDismiss={cancel}
      header="Edit token"
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={cancel} disabled={busy}>
              Cancel
            </Button>
            <Button variant="primary" onClick={save} loading={busy}>
              Save changes
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <form onSubmit={(e) => e.preventDefault()}>
        <SpaceBetween size="l">
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
          {error && (
            <Alert type="error" header="The token was not changed">
              {error}
            </Alert>
          )}
        </SpaceBetween>
      </form>
    </Modal>
  );
}
