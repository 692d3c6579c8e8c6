import { Output, colourEnabled, formatDuration, shortSha, stripAnsi } from '../../lib/cli/output';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { stream: { isTTY, write: (c: string) => chunks.push(c) }, text: () => chunks.join('') };
}

describe('Output', () => {
  it('colours statuses on a terminal', () => {
    const out = sink(true);
    new Output(out.stream, sink(true).stream, {}).line(new Output(out.stream, out.stream, {}).status('FAILED'));
    expect(out.text()).toBe('\u001b[31mFAILED\u001b[39m\n');
  });

  it('never colours when stdout is not a terminal, or NO_COLOR is set, or TERM is dumb', () => {
    expect(colourEnabled({ isTTY: false, write: () => true }, {})).toBe(false);
    expect(colourEnabled({ isTTY: true, write: () => true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: true, write: () => true }, { TERM: 'dumb' })).toBe(false);
    expect(colourEnabled({ isTTY: true, write: () => true }, { NO_COLOR: '' })).toBe(true);
    const out = sink(true);
    const o = new Output(out.stream, out.stream, { NO_COLOR: '1' });
    o.line(o.status('SUCCEEDED'));
    expect(out.text()).toBe('SUCCEEDED\n');
  });

  it('aligns table columns ignoring colour codes', () => {
    const out = sink(true);
    const o = new Output(out.stream, out.stream, {});
    o.table(['A', 'B'], [[o.status('FAILED'), 'x'], ['ok', 'y']]);
    // eslint-disable-next-line no-control-regex -- ANSI escapes start with ESC
    const plain = out.text().replace(/\u001b\[\d+m/g, '');
    expect(plain).toBe('A       B\nFAILED  x\nok      y\n');
  });

  it('allows progress only when stderr is a terminal and NO_COLOR is unset', () => {
    expect(new Output(sink(false).stream, sink(true).stream, {}).progressEnabled).toBe(true);
    expect(new Output(sink(true).stream, sink(false).stream, {}).progressEnabled).toBe(false);
    expect(new Output(sink(true).stream, sink(true).stream, { NO_COLOR: 'x' }).progressEnabled).toBe(false);
  });

  it('keeps remarks on stderr so pipes get only data', () => {
    const out = sink(false);
    const err = sink(false);
    new Output(out.stream, err.stream, {}).note('no runs found');
    expect(out.text()).toBe('');
    expect(err.text()).toBe('no runs found\n');
  });
});

describe('stripAnsi', () => {
  it("removes Terraform's colour and bold sequences", () => {
    expect(stripAnsi('\u001b[0m\u001b[1m\u001b[32mTerraform has been successfully initialized!\u001b[0m\u001b[32m\u001b[0m')).toBe('Terraform has been successfully initialized!');
  });
});

describe('formatDuration and shortSha', () => {
  it.each([
    [null, '-'],
    [0, '0s'],
    [42, '42s'],
    [185, '3m05s'],
    [3720, '1h02m'],
  ])('formats %p as %p', (seconds, text) => expect(formatDuration(seconds)).toBe(text));

  it('shortens a commit to 7 characters', () => {
    expect(shortSha('0123456789abcdef')).toBe('0123456');
    expect(shortSha(null)).toBe('-');
  });
});
