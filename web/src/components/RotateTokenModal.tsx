// Rotates a token: asks how long the old token keeps working, then hands the
// new token to onRotated (which shows it once).
import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Modal from "@cloudscape-design/components/modal";
import RadioGroup from "@cloudscape-design/components/radio-group";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { errorMessage } from "../lib/api";
import type { CreatedToken, TokenItem } from "../lib/tokens";

export const GRACE_PERIODS = [
  { value: "0s", label: "None: the old token stops working at once" },
  { value: "1h", label: "1 hour" },
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
] as const;
export const DEFAULT_GRACE_PERIOD = "1h";

export interface RotateTokenModalProps {
  token: Pick<TokenItem, "tokenUUID" | "name" | "username"> | null;
  onCancel: () => void;
  /** Rotates the token; a rejection is shown in the dialog. */
  rotate: (tokenUUID: string, gracePeriod: string) => Promise<CreatedToken>;
  onRotated: (created: CreatedToken) => void;
}

export default function RotateTokenModal({ token, onCancel, rotate, onRotated }: RotateTokenModalProps) {
  const [grace, setGrace] = useState<string>(DEFAULT_GRACE_PERIOD);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  useEffect(() => {
    setGrace(DEFAULT_GRACE_PERIOD);
    setError(undefined);
  }, [token?.tokenUUID]);

  if (!token) return null;

  const cancel = () => {
    if (!busy) onCancel();
  };
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const created = await rotate(token.tokenUUID, grace);
      onRotated(created);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      visible
      onDismiss={cancel}
      header="Rotate token"
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={cancel} disabled={busy}>
              Cancel
            </Button>
            <Button variant="primary" onClick={confirm} loading={busy}>
              Rotate
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="m">
        <Box variant="p">
          Rotating <b>{token.name || token.tokenUUID}</b> of {token.username} creates a new token with the same name, groups and expiration, and
          shows it once. The old token keeps working for the grace period you choose, so you can switch your clients over.
        </Box>
        <FormField label="Grace period" description="How long the old token keeps working (never beyond its own expiration).">
          <RadioGroup
            value={grace}
            onChange={({ detail }) => setGrace(detail.value)}
            items={GRACE_PERIODS.map((g) => ({ value: g.value, label: g.label }))}
            ariaLabel="Grace period"
          />
        </FormField>
        {error && (
          <Alert type="error" header="The token was not rotated">
            {error}
          </Alert>
        )}
      </SpaceBetween>
    </Modal>
  );
}
