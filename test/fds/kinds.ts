/**
 * The kinds of this folder in the detection order proposed for
 * src/fds/index.ts (which these tests must not edit).
 */
import type { FdKind } from "../../src/fds/fd-kind.js";
import { memfdKind } from "../../src/fds/memfd.js";
import { ttyKind } from "../../src/fds/tty.js";
import { fifoKind } from "../../src/fds/fifo.js";
import { regFileKind } from "../../src/fds/reg-file.js";
import { pipeKind } from "../../src/fds/pipe.js";
import { eventfdKind } from "../../src/fds/eventfd.js";
import { eventpollKind } from "../../src/fds/eventpoll.js";
import { signalfdKind } from "../../src/fds/signalfd.js";
import { timerfdKind } from "../../src/fds/timerfd.js";
import { inotifyKind } from "../../src/fds/inotify.js";
import { fanotifyKind } from "../../src/fds/fanotify.js";
import { pidfdKind } from "../../src/fds/pidfd.js";
import { nsFileKind } from "../../src/fds/ns-file.js";

export const FD_KINDS_UNDER_TEST: readonly FdKind[] = [
  memfdKind,
  ttyKind,
  fifoKind,
  regFileKind,
  pipeKind,
  eventfdKind,
  eventpollKind,
  signalfdKind,
  timerfdKind,
  inotifyKind,
  fanotifyKind,
  pidfdKind,
  nsFileKind,
];
