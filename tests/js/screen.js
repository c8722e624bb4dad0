// Reads a terminal's byte stream from a file into xterm.js (headless) and
// prints what a user would see, as JSON: each row's text (trailing empty
// cells left out), each cell (character, width, colour modes and values,
// attributes), the cursor, which buffer is shown and the modes a program
// can set. Used by tests/src/xterm.rs.
//
//   node screen.js FILE COLS ROWS
'use strict';
const { Terminal } = require('@xterm/headless');
const fs = require('fs');

const [file, cols, rows] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const term = new Terminal({ cols, rows, allowProposedApi: true, scrollback: 0 });
term.write(fs.readFileSync(file), () => {
  const b = term.buffer.active;
  const text = [];
  const cells = [];
  for (let y = 0; y < rows; y++) {
    const line = b.getLine(b.viewportY + y);
    text.push(line.translateToString(true));
    const row = [];
    for (let x = 0; x < cols; x++) {
      const c = line.getCell(x);
      row.push([
        c.getChars() || ' ', c.getWidth(),
        c.getFgColorMode(), c.getFgColor(), c.getBgColorMode(), c.getBgColor(),
        c.isBold(), c.isItalic(), c.isUnderline(), c.isInverse(), c.isDim(), c.isStrikethrough(),
      ]);
    }
    cells.push(row);
  }
  process.stdout.write(JSON.stringify({
    text, cells, cursor: [b.cursorX, b.cursorY], buffer: b.type, modes: term.modes,
  }));
});
