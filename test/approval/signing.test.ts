import fc from 'fast-check';
import { csrfToken, signLink, verifyCsrf, verifyLink } from '../../lib/approval/signing';

const KEY = 'test-signing-key-0123456789abcdef';
const id = fc.stringMatching(/^[0-9a-f]{32}$/);
const email = fc.emailAddress();
const exp = fc.integer({ min: 1_700_000_000, max: 4_000_000_000 });

describe('link signatures', () => {
  test('a link verifies with its own fields, and fails when any field changes', () => {
    // GIVEN any approval id, approver and expiry
    fc.assert(
      fc.property(id, email, exp, id, email, exp, (i, a, e, i2, a2, e2) => {
        // WHEN it is signed
        const sig = signLink(KEY, i, a, e);
        // THEN it verifies as is (ignoring the address's case), and not with another field
        expect(verifyLink(KEY, i, a.toUpperCase(), e, sig)).toBe(true);
        if (i2 !== i) expect(verifyLink(KEY, i2, a, e, sig)).toBe(false);
        if (a2.toLowerCase() !== a.toLowerCase()) expect(verifyLink(KEY, i, a2, e, sig)).toBe(false);
        if (e2 !== e) expect(verifyLink(KEY, i, a, e2, sig)).toBe(false);
        expect(verifyLink('another-key-0123456789abcdef', i, a, e, sig)).toBe(false);
      }),
    );
  });

  test('the CSRF token is never the link signature, and neither verifies as the other', () => {
    // GIVEN any link fields WHEN both tokens are made THEN they differ and do not cross-verify
    fc.assert(
      fc.property(id, email, exp, (i, a, e) => {
        const sig = signLink(KEY, i, a, e);
        const csrf = csrfToken(KEY, i, a, e);
        expect(csrf).not.toBe(sig);
        expect(verifyCsrf(KEY, i, a, e, sig)).toBe(false);
        expect(verifyLink(KEY, i, a, e, csrf)).toBe(false);
        expect(verifyCsrf(KEY, i, a, e, csrf)).toBe(true);
      }),
    );
  });
});
