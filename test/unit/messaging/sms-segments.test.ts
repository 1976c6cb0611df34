import { GSM7_BASIC_CHARACTERS, GSM7_EXTENSION_CHARACTERS, smsSegments } from '../../../shared/domain/messaging/template';

describe('smsSegments', () => {
  it('knows the 127 basic and 10 extension characters of GSM 03.38', () => {
    // Assess
    expect(new Set(GSM7_BASIC_CHARACTERS).size).toBe(127);
    expect(new Set(GSM7_EXTENSION_CHARACTERS).size).toBe(10);
  });

  describe('in GSM-7', () => {
    it.each<[string, string, number, number]>([
      ['an empty body', '', 0, 0],
      ['one character', 'a', 1, 1],
      ['160 ASCII characters', 'a'.repeat(160), 1, 160],
      ['161 ASCII characters', 'a'.repeat(161), 2, 161],
      ['306 ASCII characters', 'a'.repeat(306), 2, 306],
      ['307 ASCII characters', 'a'.repeat(307), 3, 307],
      ['459 ASCII characters', 'a'.repeat(459), 3, 459],
      ['460 ASCII characters', 'a'.repeat(460), 4, 460],
      ['the whole basic set', GSM7_BASIC_CHARACTERS, 1, 127],
      ['accented letters of the basic set', 'Café à Zürich, Ñoño, Ølstue', 1, 27],
      ['80 euro signs (2 septets each)', '€'.repeat(80), 1, 160],
      ['81 euro signs', '€'.repeat(81), 2, 162],
      ['a brace at position 160 (159 + 2 septets)', `${'a'.repeat(159)}{`, 2, 161],
      ['every extension character', GSM7_EXTENSION_CHARACTERS, 1, 20],
      // 152 septets then an escape sequence: it cannot straddle two parts, so it starts the second.
      ['an extension character at a part boundary', `${'a'.repeat(152)}€${'a'.repeat(152)}`, 3, 306],
      ['the same length without the boundary', `${'a'.repeat(151)}€${'a'.repeat(153)}`, 2, 306],
    ])('counts %s', (_label, body, segments, characters) => {
      // Act
      const info = smsSegments(body);
      // Assess
      expect(info).toEqual({ segments, encoding: 'GSM-7', characters });
    });
  });

  describe('in UCS-2', () => {
    it.each<[string, string, number, number]>([
      ['one emoji (a surrogate pair)', '😀', 1, 2],
      ['68 ASCII characters and one emoji', `${'a'.repeat(68)}😀`, 1, 70],
      ['69 ASCII characters and one emoji', `${'a'.repeat(69)}😀`, 2, 71],
      ['70 characters outside GSM-7', 'ç'.repeat(70), 1, 70],
      ['71 characters outside GSM-7', 'ç'.repeat(71), 2, 71],
      ['134 characters outside GSM-7', 'я'.repeat(134), 2, 134],
      ['135 characters outside GSM-7', 'я'.repeat(135), 3, 135],
      ['one emoji in a 160-character ASCII text', `${'a'.repeat(158)}😀`, 3, 160],
      // 66 units then a surrogate pair: the pair is not split, so it starts the second part.
      ['a surrogate pair at a part boundary', `${'a'.repeat(66)}😀${'a'.repeat(66)}`, 3, 134],
      ['a character of the extension table with one outside GSM-7', '€ я', 1, 3],
    ])('counts %s', (_label, body, segments, characters) => {
      // Act
      const info = smsSegments(body);
      // Assess
      expect(info).toEqual({ segments, encoding: 'UCS-2', characters });
    });
  });
});
