/**
 * Holds in-dialog requests that arrive before the app has attached its dialog
 * listeners.
 *
 * drachtio-srf resolves createB2BUA/createUAC in a promise continuation, and
 * only then can the app attach 'modify'/'destroy'/... listeners. A re-INVITE
 * that arrives in the same read of the drachtio connection as the 200's "Msg
 * sent" echo is dispatched synchronously before that continuation runs; srf
 * then answers it itself with the old SDP (its default for a dialog without a
 * 'modify' listener), so a hold would silently not be relayed. srf queues
 * INFO/REFER/UPDATE with setImmediate for this reason but not INVITE or BYE.
 *
 * Every new dialog holds its incoming requests until the next macrotask turn,
 * after all promise continuations of the current turn (where the app attaches
 * its listeners) have run, then hands them to srf in order. srf's own request
 * queue (used by createB2BUA to hold the B leg until the A leg's ACK) is left
 * alone: held requests go through the dialog's normal handle().
 */
import type Srf from 'drachtio-srf';

type Handle = (req: unknown, res: unknown) => void;
interface HandlingDialog {
  handle: Handle;
}

export function holdEarlyInDialogRequests(srf: Srf): void {
  const target = srf as unknown as { addDialog(dialog: HandlingDialog): void };
  const addDialog = target.addDialog.bind(srf);
  target.addDialog = (dialog: HandlingDialog) => {
    addDialog(dialog);
    const handle = dialog.handle;
    const held: Array<[unknown, unknown]> = [];
    dialog.handle = (req, res) => {
      held.push([req, res]);
    };
    setImmediate(() => {
      dialog.handle = handle;
      for (const [req, res] of held) dialog.handle(req, res);
    });
  };
}
