import { describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import ConfirmModal, { useConfirmAction } from "./ConfirmModal";

// A promise the test settles when it likes.
function deferred() {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function setup(onConfirm: () => Promise<void>, { confirmDisabled = false } = {}) {
  const onCancel = vi.fn();
  render(
    <ConfirmModal header="Delete thing" confirmLabel="Delete" errorHeader="The thing was not deleted" onConfirm={onConfirm} onCancel={onCancel} confirmDisabled={confirmDisabled}>
      <span>Delete the thing?</span>
      <span>It is gone at once.</span>
    </ConfirmModal>,
  );
  const dialog = screen.getByRole("dialog");
  return {
    onCancel,
    dialog,
    confirm: () => within(dialog).getByRole("button", { name: "Delete" }) as HTMLButtonElement,
    cancel: () => within(dialog).getByRole("button", { name: "Cancel" }) as HTMLButtonElement,
    close: () => within(dialog).getByRole("button", { name: "Close dialog" }),
  };
}

describe("ConfirmModal", () => {
  it("shows the header, the body and the footer's buttons", () => {
    const { dialog, confirm, cancel } = setup(vi.fn().mockResolvedValue(undefined));
    expect(within(dialog).getByText("Delete thing")).toBeTruthy();
    expect(within(dialog).getByText("Delete the thing?")).toBeTruthy();
    expect(within(dialog).getByText("It is gone at once.")).toBeTruthy();
    expect(confirm().disabled).toBe(false);
    expect(cancel().disabled).toBe(false);
  });

  it("runs the action once on success and shows no error", async () => {
    const onConfirm = vi.fn().mockResolvedValue(undefined);
    const { dialog, confirm, onCancel } = setup(onConfirm);
    await act(async () => {
      fireEvent.click(confirm());
    });
    expect(onConfirm).toHaveBeenCalledTimes(1);
    expect(onCancel).not.toHaveBeenCalled();
    expect(within(dialog).queryByText("The thing was not deleted")).toBeNull();
  });

  it("refuses to cancel or to confirm again while the action runs", async () => {
    const pending = deferred();
    const onConfirm = vi.fn(() => pending.promise);
    const { confirm, cancel, close, onCancel } = setup(onConfirm);
    // Two clicks before the dialog has rendered as busy: the second is refused all the same.
    await act(async () => {
      fireEvent.click(confirm());
      fireEvent.click(confirm());
    });
    expect(onConfirm).toHaveBeenCalledTimes(1);

    expect(cancel().disabled).toBe(true);
    await act(async () => {
      fireEvent.click(confirm());
      fireEvent.click(cancel());
      fireEvent.click(close());
    });
    expect(onConfirm).toHaveBeenCalledTimes(1);
    expect(onCancel).not.toHaveBeenCalled();

    await act(async () => pending.resolve());
    expect(cancel().disabled).toBe(false);
    fireEvent.click(cancel());
    expect(onCancel).toHaveBeenCalledTimes(1);
  });

  it("shows a rejection in the alert and stays open, ready to try again", async () => {
    const onConfirm = vi.fn().mockRejectedValueOnce(new Error("the table is unavailable")).mockResolvedValueOnce(undefined);
    const { dialog, confirm, cancel, onCancel } = setup(onConfirm);
    await act(async () => {
      fireEvent.click(confirm());
    });
    expect(within(dialog).getByText("The thing was not deleted")).toBeTruthy();
    expect(within(dialog).getByText("the table is unavailable")).toBeTruthy();
    expect(screen.getByRole("dialog")).toBe(dialog);
    expect(onCancel).not.toHaveBeenCalled();
    expect(cancel().disabled).toBe(false);

    // Trying again clears the message.
    await act(async () => {
      fireEvent.click(confirm());
    });
    expect(onConfirm).toHaveBeenCalledTimes(2);
    expect(within(dialog).queryByText("the table is unavailable")).toBeNull();
  });

  it("does not run the action while the confirmation is disabled", async () => {
    const onConfirm = vi.fn().mockResolvedValue(undefined);
    const { confirm } = setup(onConfirm, { confirmDisabled: true });
    expect(confirm().disabled).toBe(true);
    await act(async () => {
      fireEvent.click(confirm());
    });
    expect(onConfirm).not.toHaveBeenCalled();
  });

  it("shares the action's state with a body that needs it", async () => {
    function Dialog({ save }: { save: () => Promise<void> }) {
      const action = useConfirmAction();
      return (
        <ConfirmModal
          header="Edit thing"
          confirmLabel="Save"
          errorHeader="The thing was not changed"
          onConfirm={async () => {
            if (!(await hasChanges())) return action.setError("Change something first.");
            await save();
          }}
          onCancel={() => undefined}
          action={action}
        >
          <input aria-label="Name" disabled={action.busy} />
        </ConfirmModal>
      );
    }
    let changed = false;
    const hasChanges = async () => changed;
    const pending = deferred();
    const save = vi.fn(() => pending.promise);
    render(<Dialog save={save} />);
    const dialog = screen.getByRole("dialog");
    const saveButton = within(dialog).getByRole("button", { name: "Save" });

    await act(async () => {
      fireEvent.click(saveButton);
    });
    expect(save).not.toHaveBeenCalled();
    expect(within(dialog).getByText("Change something first.")).toBeTruthy();

    changed = true;
    await act(async () => {
      fireEvent.click(saveButton);
    });
    expect(save).toHaveBeenCalledTimes(1);
    expect(within(dialog).queryByText("Change something first.")).toBeNull();
    expect((within(dialog).getByLabelText("Name") as HTMLInputElement).disabled).toBe(true);
    await act(async () => pending.resolve());
    expect((within(dialog).getByLabelText("Name") as HTMLInputElement).disabled).toBe(false);
  });
});
