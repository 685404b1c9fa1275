/* Number handling shared by toCanonical (SharePoint doubles, I2) and identityOf (exact decimals, I1). */

/** Decimal text as Postgres numeric/int8 and JSON write it, optionally with an exponent. No NaN/Infinity. */
const DECIMAL_PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const MAX_EXPONENT_MAGNITUDE = 10_000;

/**
 * DECIMAL_PATTERN with at least one digit before the exponent, read by character: every numeric value a push reads
 * passes here, and the pattern's match was a visible share of what a push allocates (issue 23.3).
 */
export function isDecimalText(text: string): boolean {
  const n = text.length;
  let i = 0;
  if (i < n && (text.charCodeAt(i) === 43 /* + */ || text.charCodeAt(i) === 45) /* - */) i++;
  let mantissaDigits = 0;
  while (i < n && isDigitCode(text.charCodeAt(i))) {
    i++;
    mantissaDigits++;
  }
  if (i < n && text.charCodeAt(i) === 46 /* . */) {
    i++;
    while (i < n && isDigitCode(text.charCodeAt(i))) {
      i++;
      mantissaDigits++;
    }
  }
  if (mantissaDigits === 0) return false;
  if (i < n && (text.charCodeAt(i) === 101 /* e */ || text.charCodeAt(i) === 69) /* E */) {
    i++;
    if (i < n && (text.charCodeAt(i) === 43 || text.charCodeAt(i) === 45)) i++;
    let exponentDigits = 0;
    while (i < n && isDigitCode(text.charCodeAt(i))) {
      i++;
      exponentDigits++;
    }
    if (exponentDigits === 0) return false;
  }
  return i === n;
}

function isDigitCode(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * The exact decimal a text denotes, in plain notation with no redundant zeros: '+001.500' → '1.5',
 * '-0.00' → '0', '1.5e-7' → '0.00000015'. Returns undefined when the text is not a decimal.
 */
export function normalizeDecimalText(text: string): string | undefined {
  const match = DECIMAL_PATTERN.exec(text);
  if (match === null) return undefined;
  const [, sign, integerDigits, fractionDigits = '', exponentText] = match;
  const digits = `${integerDigits}${fractionDigits}`;
  if (digits.length === 0) return undefined;
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  if (Math.abs(exponent) > MAX_EXPONENT_MAGNITUDE) return undefined;
  const pointPosition = integerDigits.length + exponent;
  let integerPart: string;
  let fractionPart: string;
  if (pointPosition <= 0) {
    integerPart = '0';
    fractionPart = `${'0'.repeat(-pointPosition)}${digits}`;
  } else if (pointPosition >= digits.length) {
    integerPart = `${digits}${'0'.repeat(pointPosition - digits.length)}`;
    fractionPart = '';
  } else {
    integerPart = digits.slice(0, pointPosition);
    fractionPart = digits.slice(pointPosition);
  }
  integerPart = integerPart.replace(/^0+(?=\d)/, '');
  fractionPart = fractionPart.replace(/0+$/, '');
  const magnitude = fractionPart === '' ? integerPart : `${integerPart}.${fractionPart}`;
  return magnitude === '0' || sign !== '-' ? magnitude : `-${magnitude}`;
}

/**
 * A JS number as plain decimal text: integers exactly (also beyond 2^53), fractions as the shortest decimal
 * that reads back as the same double, so the number 0.1 and the numeric text '0.10' agree.
 */
export function exactDecimalOfNumber(value: number): string | undefined {
  if (!Number.isFinite(value)) return undefined;
  if (Number.isInteger(value)) return BigInt(value).toString();
  return normalizeDecimalText(String(value));
}
