// Asks before a token is deleted, and deletes it.
import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { errorMessage } from "../lib/api";
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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  if (!token) return null;

  const cancel = () => {
    if (busy) return;
    setError(undefined);
    onCancel();
  };
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onDelete(token.tokenUUID);
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
      header="Delete token"
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={cancel} disabled={busy}>
              Cancel
            </Button>
            <Button variant="primary" onClick={confirm} loading={busy}>
              Delete
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="m">
        <Box variant="span">
          Delete the token <b>{token.name || token.tokenUUID}</b> of {token.username} ({token.tokenUUID})?
        </Box>
        <Box variant="p">{deleteNotice(revocationSeconds)}</Box>
        {error && (
          <Alert type="error" header="The token was not deleted">
            {error}
          </Alert>
        )}
      </SpaceBetween>
    </Modal>
  );
}
