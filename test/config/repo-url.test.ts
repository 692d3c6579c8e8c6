import { findAllowedRepository, normalizeRepoUrl, sameRepository } from '../../lib/config/repo-url';

describe('normalizeRepoUrl', () => {
  const spellings = [
    'git@github.com:acme/live.git',
    'git@github.com:acme/live',
    'https://github.com/acme/live',
    'https://github.com/acme/live.git',
    'https://github.com/acme/live/',
    'https://GitHub.com/acme/live.git/',
    'ssh://git@github.com/acme/live.git',
    'ssh://git@github.com:22/acme/live',
    'https://github.com:443/acme/live',
    'github.com:acme/live.git',
  ];

  it.each(spellings)('GIVEN %s WHEN normalised THEN it is github.com/acme/live', (url) => {
    expect(normalizeRepoUrl(url)).toBe('github.com/acme/live');
  });

  it('GIVEN credentials in an HTTPS URL WHEN normalised THEN they are not part of the key', () => {
    expect(normalizeRepoUrl('https://x-access-token:abc@github.com/acme/live')).toBe('github.com/acme/live');
  });

  it.each([
    ['/srv/git/live', 'file:///srv/git/live'],
    ['/srv/git/live/', 'file:///srv/git/live'],
    ['file:///srv/git/live', 'file:///srv/git/live'],
    ['/srv/git/live.git', 'file:///srv/git/live.git'],
  ])('GIVEN the local path %s WHEN normalised THEN it is %s', (url, key) => {
    expect(normalizeRepoUrl(url)).toBe(key);
  });

  it.each([
    'ext::sh -c touch% ~/pwned',
    '--upload-pack=touch ~/pwned',
    'relative/path',
    'https://github.com/acme/live?ref=x',
    'https://github.com/acme/../evil/live',
    'https://github.com/acme/%2e%2e/live',
    'ftp://github.com/acme/live',
    'https://github.com/acme/live#frag',
    'file://evil.example.com/srv/live',
    'file:///srv/git/../live',
    '/srv/git/./live',
    '',
  ])('fails when the URL is %j', (url) => {
    expect(normalizeRepoUrl(url)).toBeUndefined();
  });

  it('GIVEN a lookalike host WHEN compared THEN it is another repository', () => {
    expect(sameRepository('https://github.com.evil.example/acme/live', 'https://github.com/acme/live')).toBe(false);
    expect(sameRepository('https://github.com@evil.example/acme/live', 'https://github.com/acme/live')).toBe(false);
    expect(sameRepository('git@github.com:acme/live-evil.git', 'git@github.com:acme/live.git')).toBe(false);
    expect(sameRepository('https://gitlab.com/acme/live', 'https://github.com/acme/live')).toBe(false);
  });

  it('GIVEN an allowlist WHEN a spelling matches THEN the allowlist spelling is returned', () => {
    expect(findAllowedRepository('https://github.com/acme/live', ['git@github.com:acme/other.git', 'git@github.com:acme/live.git'])).toBe(
      'git@github.com:acme/live.git',
    );
    expect(findAllowedRepository('https://github.com/acme/nope', ['git@github.com:acme/live.git'])).toBeUndefined();
  });
});
