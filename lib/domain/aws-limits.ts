/**
 * The AWS limits the pipeline meets, in one place, with how AWS measures each one and the error
 * AWS answers a breach with. The local engine and the benchmark check every call and state
 * against them ({@link LimitMeter}), so the local mode fails where AWS would, with the same error.
 *
 * Sources (read before changing a value):
 * - RunTask `overrides`: "A total of 8192 characters are allowed for overrides. This limit
 *   includes the JSON formatting characters of the override structure." ECS API reference,
 *   RunTask, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
 *   ECS answers InvalidParameterException; a Task state reports service errors as
 *   `<Service>.<Exception>`, so the state fails with `ECS.InvalidParameterException`, which
 *   `States.ALL` catches.
 * - State input/output and task payload: 256 KiB of UTF-8 JSON; over it the execution fails with
 *   `States.DataLimitExceeded`, which is a terminal error `States.ALL` does not catch.
 *   "Step Functions service quotas" (quotas related to task executions) and "Error handling in
 *   Step Functions" (States.DataLimitExceeded),
 *   https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
 * - History: 25,000 events per execution; a Distributed Map child execution has a history of its
 *   own. "Avoid reaching the history quota": at 24,999 events the execution waits for the next
 *   one, and unless it is ExecutionSucceeded the execution fails.
 *   https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html
 *   AWS does not document the error name; its cause reads "The execution reached the maximum
 *   number of history events (25000).", which is what the local engine reports.
 * - DynamoDB item: 400 KB, counted as the UTF-8 bytes of attribute names plus values.
 *   "Service, account, and table quotas in Amazon DynamoDB" (item size) and "Item sizes and
 *   formats", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 *   A larger write fails with ValidationException ("Item size has exceeded the maximum allowed size").
 * - SNS message: 256 KB ("Amazon SNS message size", Publish API reference: "Messages must be
 *   UTF-8 encoded strings and at most 256 KB in size (262,144 bytes, not 262,144 characters)");
 *   a larger Publish fails with InvalidParameterException.
 * - EventBridge entry: 256 KB, measured as "Calculating Amazon EventBridge PutEvents event entry
 *   size" says: Time 14 bytes if set, and the UTF-8 bytes of Source, DetailType, Detail and each
 *   Resources entry, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
 *   PutEvents reports such an entry as failed; the local mode raises ValidationException.
 * - SSM parameter value: 4 KB in the Standard tier, 8 KB in the Advanced tier ("Managing
 *   parameter tiers", https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html);
 *   PutParameter answers ValidationException.
 */

/** Every limit, in the unit its name says. */
export const AWS_LIMITS = {
  runTaskOverridesChars: 8192,
  statePayloadBytes: 256 * 1024,
  historyEvents: 25_000,
  dynamoItemBytes: 400 * 1024,
  snsMessageBytes: 256 * 1024,
  eventBridgeEntryBytes: 256 * 1024,
  ssmParameterBytes: { Standard: 4096, Advanced: 8192 },
} as const;

/** The tier the account stacks create the runner policy parameter in. */
export const RUNNER_POLICY_PARAMETER_TIER = 'Standard' as const;

/** The name of each limit, as `local run --json` and bench/results.json report it. */
export type LimitName = keyof typeof AWS_LIMITS;

export const LIMIT_NAMES: readonly LimitName[] = [
  'runTaskOverridesChars',
  'statePayloadBytes',
  'historyEvents',
  'dynamoItemBytes',
  'snsMessageBytes',
  'eventBridgeEntryBytes',
  'ssmParameterBytes',
];

/** The error AWS answers a breach of each limit with (as a Task state or the SDK sees it). */
export const BREACH_ERRORS: Readonly<Record<LimitName, string>> = {
  runTaskOverridesChars: 'ECS.InvalidParameterException',
  statePayloadBytes: 'States.DataLimitExceeded',
  historyEvents: 'States.Runtime',
  dynamoItemBytes: 'ValidationException',
  snsMessageBytes: 'InvalidParameterException',
  eventBridgeEntryBytes: 'ValidationException',
  ssmParameterBytes: 'ValidationException',
};

/** A value over its AWS limit. `name` is the error AWS answers with, so Catch and callers match it. */
export class AwsLimitExceededError extends Error {
  constructor(
    readonly limit: LimitName,
    readonly value: number,
    readonly max: number,
    message: string,
  ) {
    super(message);
    this.name = BREACH_ERRORS[limit];
  }
}

/** The message AWS gives for each breach (ECS's and DynamoDB's wording; the others describe it). */
function breachMessage(limit: LimitName, value: number, max: number, what: string): string {
  switch (limit) {
    case 'runTaskOverridesChars':
      return `Container Overrides length must be at most ${max} (${what}: ${value} characters)`;
    case 'statePayloadBytes':
      return `The state/task '${what}' returned a result with a size exceeding the maximum number of bytes service limit (${value} > ${max} bytes)`;
    case 'historyEvents':
      return `The execution reached the maximum number of history events (${max}). (${what})`;
    case 'dynamoItemBytes':
      return `Item size has exceeded the maximum allowed size (${what}: ${value} > ${max} bytes)`;
    case 'snsMessageBytes':
      return `Invalid parameter: Message too long (${what}: ${value} > ${max} bytes)`;
    case 'eventBridgeEntryBytes':
      return `Entry size must be at most ${max} bytes (${what}: ${value} bytes)`;
    case 'ssmParameterBytes':
      return `Parameter value exceeds the maximum of ${max} bytes for its tier (${what}: ${value} bytes)`;
  }
}

/** UTF-8 bytes of a string. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The size of a state input/output or task payload: the UTF-8 bytes of its JSON. */
export function payloadBytes(value: unknown): number {
  return value === undefined ? 0 : utf8Bytes(JSON.stringify(value));
}

/** RunTask `overrides` as ECS counts them: characters of the JSON, formatting included. */
export function runTaskOverridesChars(overrides: unknown): number {
  return overrides === undefined ? 0 : JSON.stringify(overrides).length;
}

/** An EventBridge PutEvents entry, as the SDK takes it. */
export interface PutEventsEntryLike {
  Time?: Date | string | number;
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Resources?: readonly string[];
}

/** The entry size EventBridge checks against 256 KB (see the file comment for the rule). */
export function eventBridgeEntryBytes(entry: PutEventsEntryLike): number {
  let size = entry.Time !== undefined ? 14 : 0;
  size += utf8Bytes(entry.Source ?? '') + utf8Bytes(entry.DetailType ?? '');
  if (entry.Detail !== undefined) size += utf8Bytes(entry.Detail);
  for (const r of entry.Resources ?? []) size += utf8Bytes(r);
  return size;
}

/** A DynamoDB attribute value in the wire format ({ S: ... }, { M: ... }, ...). */
export type AttributeValueLike = Record<string, unknown>;

/** The bytes a number takes: about one byte per two significant digits, plus one. */
function numberBytes(n: string): number {
  const digits = n.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length === 0 ? 1 : 1 + Math.ceil(digits.length / 2);
}

function attributeValueBytes(v: AttributeValueLike): number {
  const [type, val] = Object.entries(v)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return utf8Bytes(String(val));
    case 'N':
      return numberBytes(String(val));
    case 'B':
      return val instanceof Uint8Array ? val.byteLength : Buffer.from(String(val), 'base64').length;
    case 'SS':
      return (val as string[]).reduce((s, x) => s + utf8Bytes(x), 0);
    case 'NS':
      return (val as string[]).reduce((s, x) => s + numberBytes(x), 0);
    case 'BS':
      return (val as Uint8Array[]).reduce((s, x) => s + x.byteLength, 0);
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'L':
      // 3 bytes of overhead for the list, 1 per element.
      return 3 + (val as AttributeValueLike[]).reduce((s, x) => s + 1 + attributeValueBytes(x), 0);
    case 'M':
      // 3 bytes of overhead for the map, 1 per element, then names and values like an item.
      return 3 + Object.keys(val as object).length + dynamoItemBytes(val as Record<string, AttributeValueLike>);
    default:
      return 0;
  }
}

/** An item's size as DynamoDB counts it against 400 KB: UTF-8 bytes of names plus values. */
export function dynamoItemBytes(item: Readonly<Record<string, AttributeValueLike>>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8Bytes(name) + attributeValueBytes(value);
  return size;
}

/** The largest value seen for one limit, and where. */
export interface LimitUse {
  max: number;
  limit: number;
  /** What the largest value was (a state, a table key, a topic). */
  at?: string;
}

/** What `local run --json` and bench/results.json report under `limits`. */
export type LimitsReport = Record<LimitName, LimitUse>;

/**
 * Keeps the largest value of each limit and refuses a breach with AWS's error. One meter per
 * execution (the engine's) or per benchmark run.
 */
export class LimitMeter {
  private readonly uses: Record<LimitName, LimitUse>;

  constructor(private readonly ssmTier: keyof (typeof AWS_LIMITS)['ssmParameterBytes'] = RUNNER_POLICY_PARAMETER_TIER) {
    this.uses = Object.fromEntries(LIMIT_NAMES.map((n) => [n, { max: 0, limit: this.limitOf(n) }])) as Record<LimitName, LimitUse>;
  }

  /** The limit of a name (the SSM one for the meter's tier). */
  limitOf(name: LimitName): number {
    return name === 'ssmParameterBytes' ? AWS_LIMITS.ssmParameterBytes[this.ssmTier] : AWS_LIMITS[name];
  }

  /**
   * Records a value; past the limit, throws what AWS would answer.
   * @throws AwsLimitExceededError named after AWS's error
   */
  check(name: LimitName, value: number, what: string): void {
    this.observe(name, value, what);
    const limit = this.limitOf(name);
    if (value > limit) throw new AwsLimitExceededError(name, value, limit, breachMessage(name, value, limit, what));
  }

  /** Records a value without refusing it (a figure AWS checks elsewhere). */
  observe(name: LimitName, value: number, what: string): void {
    const use = this.uses[name];
    if (value > use.max) {
      use.max = value;
      use.at = what;
    }
  }

  /** The largest value of each limit against the limit. */
  report(): LimitsReport {
    return Object.fromEntries(LIMIT_NAMES.map((n) => [n, { ...this.uses[n] }])) as LimitsReport;
  }

  /** Whether every figure is at or under its limit. */
  withinLimits(): boolean {
    return LIMIT_NAMES.every((n) => this.uses[n].max <= this.uses[n].limit);
  }
}

/**
 * An SNS Publish's size: the message's UTF-8 bytes plus each message attribute's name, data
 * type and value ("Amazon SNS message attributes": attributes count toward the 256 KB).
 */
export function snsPublishBytes(message: string, attributes: Readonly<Record<string, string>> = {}): number {
  let size = utf8Bytes(message);
  for (const [name, value] of Object.entries(attributes)) size += utf8Bytes(name) + utf8Bytes('String') + utf8Bytes(value);
  return size;
}
