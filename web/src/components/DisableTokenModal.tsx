// Asks before a token is disabled, and disables it. A disabled token is
// refused until it is enabled again; unlike a delete, this can be undone.
import Box from "@cloudscape-design/components/box";
import ConfirmModal from "./ConfirmModal";
import type { TokenItem } from "../lib/tokens";
import { disableNotice } from "../messages";

export interface DisableTokenModalProps {
  token: Pick<TokenItem, "tokenUUID" | "name" | "username"> | null;
  onCancel: () => void;
  /** Disables the token; a rejection is shown in the dialog. */
  onDisable: (tokenUUID: string) => Promise<void>;
  revocationSeconds?: number;
}

export default function DisableTokenModal({ token, onCancel, onDisable, revocationSeconds }: DisableTokenModalProps) {
  if (!token) return null;
  return (
    <ConfirmModal
      key={token.tokenUUID}
      header="Disable token"
      confirmLabel="Disable"
      errorHeader="The token was not disabled"
      onConfirm={() => onDisable(token.tokenUUID)}
      onCancel={onCancel}
    >
      <Box variant="span">
        Disable the token <b>{token.name || token.tokenUUID}</b> of {token.username} ({token.tokenUUID})?
      </Box>
      <Box variant="p">{disableNotice(revocationSeconds)}</Box>
    </ConfirmModal>
  );
}
