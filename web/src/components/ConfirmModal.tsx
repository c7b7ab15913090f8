// A dialog that asks before an action and then runs it: Cancel and a primary
// button in the footer, the action's rejection in an error alert below the
// body. While the action runs the dialog can be neither cancelled nor
// confirmed again, and it stays open whatever the outcome: whoever owns it
// closes it once the action has done its work.
import { useCallback, useRef, useState, type ReactNode } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Modal, { type ModalProps } from "@cloudscape-design/components/modal";
import SpaceBetween, { type SpaceBetweenProps } from "@cloudscape-design/components/space-between";
import { errorMessage } from "../lib/api";

/** The state of a dialog's action: whether it runs, and the message of its last failure. */
export interface ConfirmAction {
  busy: boolean;
  error?: string;
  /** Shows a message of the dialog's own (e.g. that nothing is to be done), or clears it. */
  setError: (message: string | undefined) => void;
  /**
   * Runs fn unless an action already runs; a rejection's message becomes the
   * error. It never rejects itself.
   */
  run: (fn: () => Promise<void>) => Promise<void>;
}

export function useConfirmAction(): ConfirmAction {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  // The state above only changes with the next render; a second click that
  // comes before it must still be refused.
  const running = useRef(false);
  const run = useCallback(async (fn: () => Promise<void>) => {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

export interface ConfirmModalProps {
  header: string;
  /** The primary button's label, e.g. "Delete". */
  confirmLabel: string;
  /** The header of the alert that shows a failure, e.g. "The token was not deleted". */
  errorHeader: string;
  /** The action; its rejection is shown in the dialog. */
  onConfirm: () => Promise<void>;
  onCancel: () => void;
  /** Keeps the primary button disabled, e.g. until a confirmation is typed. */
  confirmDisabled?: boolean;
  size?: ModalProps.Size;
  /** The space between the body's elements. */
  spacing?: SpaceBetweenProps.Size;
  /** Puts the body in a form, for dialogs with fields (it is never submitted). */
  form?: boolean;
  /** The state of the action, for a body that needs it; the dialog keeps its own otherwise. */
  action?: ConfirmAction;
  /**
   * The body. Each child is spaced apart from the next, so pass the elements
   * as separate children rather than in one fragment.
   */
  children?: ReactNode;
}

export default function ConfirmModal({
  header,
  confirmLabel,
  errorHeader,
  onConfirm,
  onCancel,
  confirmDisabled = false,
  size,
  spacing = "m",
  form = false,
  action,
  children,
}: ConfirmModalProps) {
  const own = useConfirmAction();
  const { busy, error, setError, run } = action ?? own;

  const cancel = () => {
    if (busy) return;
    setError(undefined);
    onCancel();
  };
  const confirm = () => {
    if (busy || confirmDisabled) return;
    void run(onConfirm);
  };

  const body = (
    <SpaceBetween size={spacing}>
      {children}
      {error && (
        <Alert type="error" header={errorHeader}>
          {error}
        </Alert>
      )}
    </SpaceBetween>
  );

  return (
    <Modal
      visible
      size={size}
      onDismiss={cancel}
      header={header}
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={cancel} disabled={busy}>
              Cancel
            </Button>
            <Button variant="primary" onClick={confirm} loading={busy} disabled={confirmDisabled}>
              {confirmLabel}
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      {form ? <form onSubmit={(e) => e.preventDefault()}>{body}</form> : body}
    </Modal>
  );
}
