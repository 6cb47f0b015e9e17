import xtermHeadless from '@xterm/headless';
import xtermSerialize from '@xterm/addon-serialize';

/**
 * What a person sees on a terminal, rebuilt from the bytes a program wrote to it: the bytes are
 * replayed into a real terminal emulator (xterm.js, headless), which applies every cursor move,
 * erase and redraw, and the screen is read back as text, and as HTML for a screenshot.
 */
export interface TerminalScreen {
  /** every line of the buffer (scrollback, then the screen), trailing blanks trimmed, trailing empty lines dropped */
  lines: string[];
  /** the same, coloured, as one HTML page */
  html: string;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** The end of a synchronized update (DEC mode 2026): the terminal shows the frame drawn since its start. */
const FRAME_END = '\x1b[?2026l';

/**
 * The screen at the first moment `until` holds for its lines, looked at after every frame (a
 * synchronized update, as log-update draws them), or at the end when `until` is not given; null
 * when `until` never held.
 */
export async function replayScreen(raw: string, size: TerminalSize, until?: (lines: string[]) => boolean): Promise<TerminalScreen | null> {
  const term = new xtermHeadless.Terminal({ ...size, scrollback: 10_000, allowProposedApi: true });
  const serializer = new xtermSerialize.SerializeAddon();
  term.loadAddon(serializer);
  try {
    for (const frame of raw.split(FRAME_END)) {
      await new Promise<void>((resolve) => term.write(frame + FRAME_END, resolve));
      if (until && until(bufferLines(term))) return { lines: bufferLines(term), html: page(serializer.serializeAsHTML({ includeGlobalBackground: true })) };
    }
    return until ? null : { lines: bufferLines(term), html: page(serializer.serializeAsHTML({ includeGlobalBackground: true })) };
  } finally {
    term.dispose();
  }
}

function bufferLines(term: InstanceType<typeof xtermHeadless.Terminal>): string[] {
  const buffer = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * The serializer's fragment as a page the width of its longest line: each line's trailing blank
 * cells and the empty lines after the last one are dropped (the emulator pads every line to the
 * terminal's width).
 */
function page(fragment: string): string {
  const body = fragment
    .replace(/<span>\s*<\/span>(?=<\/div>)/g, '')
    .replace(/ +(?=<\/span><\/div>)/g, '')
    .replace(/(?:<div>(?:<span><\/span>)?<\/div>)+(?=<\/div><\/pre>)/, '');
  return `<!doctype html><meta charset="utf-8"><style>
    html, body { margin: 0; background: #000; }
    pre { margin: 0; padding: 12px 16px; display: inline-block; }
    pre > div { font: 13px/1.35 "DejaVu Sans Mono", monospace !important; }
  </style>${body}`;
}
