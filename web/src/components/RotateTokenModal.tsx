// Rotates a token: asks how long the old token keeps working, then hands the
// new token to onRotated (which shows it once).
import { useEffect, useState } from "react";
import Box from "@cloudscape-design/components/box";
import FormField from "@cloudscape-design/components/form-field";
import RadioGroup from "@cloudscape-design/components/radio-group";
import ConfirmModal from "./ConfirmModal";
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

  useEffect(() => {
    setGrace(DEFAULT_GRACE_PERIOD);
  }, [token?.tokenUUID]);

  if (!token) return null;

  return (
    <ConfirmModal
      key={token.tokenUUID}
      header="Rotate token"
      confirmLabel="Rotate"
      errorHeader="The token was not rotated"
      onConfirm={async () => {
        const created = await rotate(token.tokenUUID, grace);
        onRotated(created);
      }}
      onCancel={onCancel}
    >
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
    </ConfirmModal>
  );
}
