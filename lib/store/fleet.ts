/**
 * The fleet registry in the run table (layout in ./keys.ts): one item per account under the
 * `FLEET` partition, never one item holding the fleet (DynamoDB items hold 400 KB; a fleet may
 * have 10,000 accounts), and one summary item of the last refresh.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '../domain/concurrency';
import type { FleetRecord, FleetRefreshRecord } from '../fleet/registry';
import { FLEET_ACCOUNT_PREFIX, FLEET_PK, fleetAccountKey, fleetRefreshKey } from './keys';
import { strip, type RunTable } from './table';

/** How many registry writes are in flight at once. */
const WRITE_CONCURRENCY = 8;

/** Reads and writes the fleet registry. */
export class FleetRegistry {
  constructor(private readonly table: RunTable) {}

  /** Every record, active and left, sorted by account id (paged through the partition). */
  async list(): Promise<FleetRecord[]> {
    const items = await this.table.queryAll(FLEET_PK, FLEET_ACCOUNT_PREFIX);
    return items.map((i) => strip<FleetRecord>(i)!).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The records runs deploy. */
  async active(): Promise<FleetRecord[]> {
    return (await this.list()).filter((r) => r.status === 'active');
  }

  /** Writes changed records, then the refresh summary. */
  async write(records: readonly FleetRecord[], refresh: FleetRefreshRecord): Promise<void> {
    await mapLimit(records, WRITE_CONCURRENCY, async (record) => {
      await this.table.doc.send(new PutCommand({ TableName: this.table.tableName, Item: { ...fleetAccountKey(record.id), type: 'fleet-account', ...record } }));
    });
    await this.table.doc.send(new PutCommand({ TableName: this.table.tableName, Item: { ...fleetRefreshKey(), type: 'fleet-refresh', ...refresh } }));
  }

  /** The last refresh, if any. */
  async lastRefresh(): Promise<FleetRefreshRecord | undefined> {
    return strip<FleetRefreshRecord>(await this.table.get(fleetRefreshKey()));
  }
}
