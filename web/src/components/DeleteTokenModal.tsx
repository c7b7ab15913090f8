// Asks before a token is deleted, and deletes it.
import Box from "@cloudscape-design/components/box";
import ConfirmModal from "./ConfirmModal";
import type { TokenItem } from "../lib/tokens";
import { deleteNotice } from "../messages";

export interface DeleteTokenModalProps {
  token: Pick<TokenItem, "tokenUUID" | "name" | "username"> | null;
  onCancel: () => void;
  /** Deletes the token; a rejection is shown in the dialog. */
  onDelete: (tokenUUID: string) => Promise<void>;
  /** TOKEN_CACHE_SECONDS from config.json; 10 when not given. */
  revocationSeconds?: number;
}

export default function DeleteTokenModal({ token, onCancel, onDelete, revocationSeconds }: DeleteTokenModalProps) {
  if (!token) return null;
  return (
    <ConfirmModal
      key={token.tokenUUID}
      header="Delete token"
      confirmLabel="Delete"
      errorHeader="The token was not deleted"
      onConfirm={() => onDelete(token.tokenUUID)}
      onCancel={onCancel}
    >
      <Box variant="span">
        Delete the token <b>{token.name || token.tokenUUID}</b> of {token.username} ({token.tokenUUID})?
      </Box>
      <Box variant="p">{deleteNotice(revocationSeconds)}</Box>
    </ConfirmModal>
  );
}
