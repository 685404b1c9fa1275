import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_DIR_MARKER, DemoDataDirError, prepareDataDir } from '../../src/demo/dataDir';
import { firstUntraversableAncestor } from '../../src/demo/postgres';

describe('demo data directory', () => {
  let root: string;
  beforeEach(() => {
    root = join(tmpdir(), `arcore-datadir-${process.pid}-${Date.now()}`);
    mkdirSync(root, { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates a new directory with its marker, and empties one it made before', () => {
    const dir = join(root, 'a', 'demo');
    prepareDataDir(dir);
    expect(readdirSync(dir)).toEqual([DEMO_DIR_MARKER]);
    writeFileSync(join(dir, 'leftover'), 'x');
    prepareDataDir(dir);
    expect(readdirSync(dir)).toEqual([DEMO_DIR_MARKER]);
  });

  it('refuses to empty a directory the demo did not create', () => {
    const dir = join(root, 'mine');
    mkdirSync(dir);
    writeFileSync(join(dir, 'important.txt'), 'keep me');
    expect(() => prepareDataDir(dir)).toThrow(DemoDataDirError);
    expect(() => prepareDataDir(dir)).toThrow(/refusing to empty .*mine/);
    expect(existsSync(join(dir, 'important.txt'))).toBe(true);
  });

  it('finds the first ancestor other users cannot enter', () => {
    const closed = join(root, 'closed');
    const inner = join(closed, 'inner');
    mkdirSync(inner, { recursive: true });
    chmodSync(root, 0o755);
    chmodSync(closed, 0o700);
    expect(firstUntraversableAncestor(join(inner, 'data'))).toBe(closed);
    chmodSync(closed, 0o755);
    const blocked = firstUntraversableAncestor(join(inner, 'data'));
    expect(blocked === null || !blocked.startsWith(root)).toBe(true);
  });
});
