// A live-view row is cut by its visible width before it is painted: a cut never splits a colour
// code, and agent text cannot put escape sequences on the screen.
import { describe, expect, it } from 'vitest';
import { paintRow } from '../../src/cli/live-view.js';

const colour = (style: string, text: string) => `<${style}>${text}</${style}>`;

describe('paintRow', () => {
  it('paints a row that fits as it is', () => {
    expect(
      paintRow(
        [
          [undefined, '  '],
          ['cyan', 'fix-login'],
          ['dim', ' working'],
        ],
        40,
        colour,
      ),
    ).toBe('  <cyan>fix-login</cyan><dim> working</dim>');
  });

  it('cuts a long row inside a coloured piece, keeps the colour closed and ends with an ellipsis', () => {
    expect(
      paintRow(
        [
          ['cyan', 'abcdef'],
          ['dim', 'ghijkl'],
        ],
        8,
        colour,
      ),
    ).toBe('<cyan>abcdef</cyan><dim>g</dim>…');
    expect(paintRow([['bold', 'abcdefghij']], 5, colour)).toBe('<bold>abcd</bold>…');
  });

  it('replaces control characters in agent text, so an escape sequence is shown, never obeyed', () => {
    expect(paintRow([['dim', 'ok \x1b]0;title\x07 done']], 40, colour)).toBe('<dim>ok ?]0;title? done</dim>');
  });
});
