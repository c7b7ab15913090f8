// The admin's view of one token's usage, opened from the table's Actions
// menu: the limits in force and the usage of the period.
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import LimitsView from "./LimitsView";
import TokenUsagePanel, { type TokenUsagePanelProps } from "./TokenUsagePanel";
import type { TokenItem } from "../lib/tokens";

export interface TokenUsageModalProps {
  token: (Pick<TokenItem, "tokenUUID" | "name" | "username"> & Partial<Pick<TokenItem, "limits" | "effectiveLimits">>) | null;
  load: TokenUsagePanelProps["load"];
  onClose: () => void;
}

export default function TokenUsageModal({ token, load, onClose }: TokenUsageModalProps) {
  if (!token) return null;
  const label = token.name || token.tokenUUID;
  return (
    <Modal
      visible
      size="max"
      onDismiss={onClose}
      header={`Usage of ${label}`}
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <Button variant="primary" onClick={onClose}>
            Close
          </Button>
        </Box>
      }
    >
      <SpaceBetween size="l">
        <KeyValuePairs
          columns={3}
          items={[
            { label: "User", value: token.username },
            { label: "Token UUID", value: <Box variant="code">{token.tokenUUID}</Box> },
            { label: "Limits", value: <LimitsView effective={token.effectiveLimits} own={token.limits} /> },
          ]}
        />
        <TokenUsagePanel tokenUUID={token.tokenUUID} subject={label} load={load} />
      </SpaceBetween>
    </Modal>
  );
}
