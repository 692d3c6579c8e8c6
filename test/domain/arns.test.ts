import { centralTopicArn, launcherRoleArn, PARTITION_PATTERN, partitionOf } from '../../lib/domain/arns';
import { names } from '../../lib/domain/names';
import { accountItem } from '../../lib/pipeline/targets';
import { testConfig } from '../fixtures/pipeline/config';

describe('partitionOf', () => {
  it.each([
    ['us-east-1', 'aws'],
    ['eu-central-2', 'aws'],
    ['cn-north-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['us-iso-east-1', 'aws-iso'],
    ['us-isob-east-1', 'aws-iso-b'],
  ])('%s is in %s', (region, partition) => {
    expect(partitionOf(region)).toBe(partition);
    expect(partitionOf(region)).toMatch(PARTITION_PATTERN);
  });

  it('does not take a word that is not a partition', () => {
    expect(['mars', 'aws_cn', 'AWS', 'aws-'].filter((p) => PARTITION_PATTERN.test(p))).toEqual([]);
  });
});

describe('ARNs', () => {
  it("gives the pipeline's account item the launcher role the account stack creates, in the central region's partition", () => {
    // GIVEN a config whose central region is in the China partition
    const config = testConfig({ central: { account: '111111111111', region: 'cn-north-1' } });
    const account = config.accounts[0]!;
    // WHEN the targets step builds the account's item
    const item = accountItem(config, account, ['app']);
    // THEN its role is the one ARN helper's, in aws-cn, named as the account stack names it
    expect(item.launcherRoleArn).toBe(launcherRoleArn('aws-cn', config, account));
    expect(item.launcherRoleArn).toBe(`arn:aws-cn:iam::${account.id}:role/${names.launcherRole('cn-north-1')}`);
  });

  it('names the central topic in the central account and region', () => {
    const config = testConfig();
    expect(centralTopicArn('aws', config)).toBe(`arn:aws:sns:us-east-1:111111111111:${names.topic()}`);
  });
});
