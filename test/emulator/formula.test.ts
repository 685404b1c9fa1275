import {
  coerceFormulaResult,
  compileFormula,
  FormulaError,
  type FormulaValue,
} from '../../src/emulator/formula';

const evaluate = (formula: string, values: Record<string, FormulaValue> = {}) =>
  compileFormula(formula).evaluate((ref) => values[ref] ?? null);

describe('calculated-column formulas', () => {
  it('evaluates arithmetic with Excel precedence, text joins and comparisons', () => {
    expect(evaluate('=1+2*3')).toBe(7);
    expect(evaluate('=(1+2)*3')).toBe(9);
    expect(evaluate('=2^3^2')).toBe(512);
    expect(evaluate('=-2+5')).toBe(3);
    expect(evaluate('="a"&"b"&1')).toBe('ab1');
    expect(evaluate('=[Qty]*[Price]', { Qty: 3, Price: 1.5 })).toBe(4.5);
    expect(evaluate('=[Qty]>2', { Qty: 3 })).toBe(true);
    expect(evaluate('="A"="a"')).toBe(true);
  });

  it('supports IF, AND, OR, NOT, text functions, ROUND, ABS and ISBLANK', () => {
    expect(evaluate('=IF([Qty]>2,"many","few")', { Qty: 1 })).toBe('few');
    expect(evaluate('=AND(TRUE,OR(FALSE,NOT(FALSE)))')).toBe(true);
    expect(evaluate('=CONCATENATE(UPPER("a"),LOWER("B"),LEN("abc"))')).toBe('Ab3');
    expect(evaluate('=LEFT("hello",2)&RIGHT("hello",3)&TRIM("  x  y ")')).toBe('hellox y');
    expect(evaluate('=ROUND(2.345,2)+ABS(-1)')).toBe(3.35);
    expect(evaluate('=ISBLANK([Missing])')).toBe(true);
  });

  it('adds days to dates and yields null (an error value) for errors such as division by zero', () => {
    const day = Date.UTC(2024, 2, 10);
    expect(evaluate('=[Due]+1', { Due: { dateMs: day } })).toEqual({ dateMs: day + 86_400_000 });
    expect(evaluate('=1/0')).toBeNull();
    expect(evaluate('="x"*2')).toBeNull();
  });

  it('lists the columns it refers to and rejects what it does not support', () => {
    expect(compileFormula('=[Unit Price]*Qty').references).toEqual(['Unit Price', 'Qty']);
    for (const bad of ['=', '=TODAY()', '=1+', '="open', '=[Open', '=IF(1)', '=1 $ 2'])
      expect(() => compileFormula(bad)).toThrow(FormulaError);
  });

  it('converts results to the output type', () => {
    expect(coerceFormulaResult(5, 'text')).toBe('5');
    expect(coerceFormulaResult(true, 'number')).toBe(1);
    expect(coerceFormulaResult('abc', 'number')).toBeNull();
    expect(coerceFormulaResult(0, 'boolean')).toBe(false);
    expect(coerceFormulaResult(1, 'dateTime')).toEqual({ dateMs: 86_400_000 });
    expect(coerceFormulaResult(null, 'text')).toBeNull();
  });
});
