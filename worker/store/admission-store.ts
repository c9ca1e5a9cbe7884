/**
 * The admissions ledger and each organisation's counter row (DESIGN §11), in the control-plane database: the one
 * authority on which runs hold a concurrency slot (ACTIVE) and which wait for one (QUEUED), whichever store a run
 * lives in. Every change is one statement that first locks the organisation's row; under READ COMMITTED that lock
 * serialises the organisation's grants, and the counters it carries are read fresh once it is held.
 *
 * What a statement reads of the ledger itself comes from its snapshot, taken before it waited for the lock, so a
 * promotion may miss rows committed meanwhile. Its answer says when slots and queued runs are both left over;
 * the caller then runs it again (a fresh snapshot). Admission never reads the ledger: only the locked counters.
 */
import type { Residency } from "./ids.ts";
import { LegacyTables } from "./legacy-tables.ts";
import type { Created, NewRun, Run } from "./run-store.ts";
import { Params, columnsOf } from "./sql.ts";
import { runs as runTable } from "./tables.ts";

export type AdmissionState = "ACTIVE" | "QUEUED";

export interface Admission {
  runId: string;
  state: AdmissionState;
  /** When a QUEUED run joined the queue: strictly increasing per organisation, in the order grants were made. */
  queuedAt: Date | null;
  /** When an ACTIVE run took its slot, read under the organisation's lock: never decreasing in grant order. */
  admittedAt: Date | null;
}

export interface AdmissionRequest {
  organizationId: string;
  runs: { runId: string; residency: Residency }[];
  /** A trigger's idempotency key, checked against the legacy runs in the same statement. */
  idempotency?: { environmentId: string; task: string; key: string };
}

export interface AdmissionResult {
  /** One per run that was given a ledger row now, in the order asked; a run that already had one is left out. */
  admitted: Admission[];
  /** The legacy run holding the idempotency key: nothing was admitted. */
  heldRunId?: string;
}

export interface Promotion {
  /** Runs whose ledger rows went QUEUED → ACTIVE: each is now compare-and-set QUEUED → PENDING in its store. */
  promoted: { runId: string; residency: Residency; admittedAt: Date }[];
  /** True when a slot and a queued run are both left: the statement's snapshot missed rows; run it again. */
  incomplete: boolean;
}

export interface LedgerPosition {
  createdAt: Date;
  runId: string;
}

export interface LedgerRow extends LedgerPosition {
  organizationId: string;
  state: AdmissionState;
}

interface PromotionRow {
  promoted: { runId: string; residency: Residency; admittedAt: string }[];
  incomplete: boolean | null;
}

interface AdmitRow {
  held: string | null;
  admitted: { runId: string; state: AdmissionState; queuedAt: string | null; admittedAt: string | null }[];
}

/**
 * Grants `min(free slots, asked)` runs ACTIVE only when nothing is queued (strict FIFO), the rest QUEUED, in the
 * order asked; nothing if the legacy store holds the key. Queue times continue the organisation's last one, a
 * millisecond apart, so (queued_at, run_id) orders the queue exactly as the grants were made.
 */
const ADMIT = `
with org as (
  select concurrency_limit, active_runs, queued_runs, last_queued_at from organizations where id = $1 for no key update
), held as (
  select id from runs
  where $3::text is not null and environment_id = $3 and task = $4 and idempotency_key = $5
    and (idempotency_key_expires_at is null or idempotency_key_expires_at > now())
  limit 1
), asked as (
  select run_id, residency, position - 1 as position
  from unnest($2::text[], $6::text[]) with ordinality as r(run_id, residency, position)
  where not exists (select from held)
), grant_ as (
  select
    case when queued_runs = 0
      then least((select count(*) from asked), greatest(0, concurrency_limit - active_runs))
      else 0
    end as granted,
    date_trunc('milliseconds', clock_timestamp()) as granted_at,
    greatest(date_trunc('milliseconds', clock_timestamp()), last_queued_at + interval '1 millisecond') as queue_from
  from org
), ledger as (
  insert into admissions (run_id, organization_id, state, queued_at, admitted_at, residency)
  select run_id, $1,
    case when position < granted then 'ACTIVE' else 'QUEUED' end::admission_state,
    case when position < granted then null else queue_from + (position - granted) * interval '1 millisecond' end,
    case when position < granted then granted_at end,
    residency
  from asked, grant_
  on conflict (run_id) do nothing
  returning run_id, state, queued_at, admitted_at
), counters as (
  update organizations set
    active_runs = active_runs + (select count(*) from ledger where state = 'ACTIVE'),
    queued_runs = queued_runs + (select count(*) from ledger where state = 'QUEUED'),
    last_queued_at = coalesce((select max(queued_at) from ledger), last_queued_at)
  where id = $1
)
select
  (select id from held) as held,
  coalesce(
    (select json_agg(json_build_object(
      'runId', run_id, 'state', state, 'queuedAt', queued_at, 'admittedAt', admitted_at
    )) from ledger),
    '[]'
  ) as admitted`;

/**
 * Deletes the released runs' rows, then flips the oldest QUEUED rows into the slots now free, if any are queued.
 * The organisation's lock is taken before any ledger row's (the delete waits on `org`), so two statements never
 * wait on each other.
 */
const RELEASE_AND_PROMOTE = `
with org as (
  select id, concurrency_limit, active_runs, queued_runs from organizations where id = $1 for no key update
), released as (
  delete from admissions where run_id = any($2::text[]) and organization_id = (select id from org) returning state
), left_over as (
  select
    greatest(0, concurrency_limit - active_runs + (select count(*) from released where state = 'ACTIVE')) as free,
    queued_runs - (select count(*) from released where state = 'QUEUED') as queued,
    date_trunc('milliseconds', clock_timestamp()) as promoted_at
  from org
), next as (
  select run_id from admissions
  where organization_id = $1 and state = 'QUEUED' and run_id <> all($2::text[])
  order by queued_at, run_id
  limit (select case when queued > 0 then free else 0 end from left_over)
), promoted as (
  update admissions set state = 'ACTIVE', admitted_at = (select promoted_at from left_over)
  where run_id in (select run_id from next) and state = 'QUEUED'
  returning run_id, residency, admitted_at
), counters as (
  update organizations set
    active_runs = active_runs - (select count(*) from released where state = 'ACTIVE')
      + (select count(*) from promoted),
    queued_runs = queued_runs - (select count(*) from released where state = 'QUEUED') - (select count(*) from promoted)
  where id = $1
  returning active_runs, queued_runs, concurrency_limit
)
select
  coalesce(
    (select json_agg(json_build_object('runId', run_id, 'residency', residency, 'admittedAt', admitted_at))
     from promoted),
    '[]'
  ) as promoted,
  (select queued_runs > 0 and active_runs < concurrency_limit from counters) as incomplete`;

/**
 * Gives ledger rows to runs that hold no row (QUEUED runs of the run-ops store from before the ledger existed;
 * the migration back-filled legacy), counted into their organisation's row. Runs of an organisation that does
 * not exist (any more) are left alone.
 */
const ADOPT = `
with org as (
  select id from organizations where id = $1 for no key update
), adopted as (
  insert into admissions (run_id, organization_id, state, queued_at, residency)
  select run_id, org.id, 'QUEUED', queued_at, residency
  from unnest($2::text[], $3::timestamptz[], $4::text[]) as r(run_id, queued_at, residency), org
  on conflict (run_id) do nothing
  returning run_id
)
update organizations set queued_runs = queued_runs + (select count(*) from adopted) where id = $1`;

/**
 * ADMIT and the run's insert in one statement, for a run that lives in legacy beside the ledger (split off, or a
 * child of a legacy run): the run is written PENDING (a slot is free and nothing is queued) or QUEUED, its ledger
 * row from what was written, and the counters from the ledger row, all or nothing. Nothing is written when an
 * unexpired run holds the key (it is returned instead), or when the key's unique index refuses the insert (a
 * concurrent trigger with the key committed first, or an expired holder still has it): no row then.
 * $1 organisation, $2 key, $3 environment, $4 task; the run's own columns follow.
 */
const admitLegacyRunStatement = (columns: string[], placeholders: string[]) => `
with org as (
  select concurrency_limit, active_runs, queued_runs, last_queued_at from organizations where id = $1 for no key update
), held as (
  select * from runs
  where $2::text is not null and environment_id = $3 and task = $4 and idempotency_key = $2
    and (idempotency_key_expires_at is null or idempotency_key_expires_at > now())
  limit 1
), decision as (
  select
    queued_runs = 0 and active_runs < concurrency_limit as active,
    date_trunc('milliseconds', clock_timestamp()) as granted_at,
    greatest(date_trunc('milliseconds', clock_timestamp()), last_queued_at + interval '1 millisecond') as queue_from
  from org
  where not exists (select from held)
), run as (
  insert into runs (${columns.join(", ")}, status, queued_at, admitted_at)
  select ${placeholders.join(", ")},
    case when active then 'PENDING' else 'QUEUED' end::run_status,
    case when active then null else queue_from end,
    case when active then granted_at end
  from decision
  on conflict (environment_id, task, idempotency_key) do nothing
  returning *
), ledger as (
  insert into admissions (run_id, organization_id, state, queued_at, admitted_at, residency)
  select id, $1, case when status = 'PENDING' then 'ACTIVE' else 'QUEUED' end::admission_state,
    queued_at, admitted_at, 'legacy'
  from run
  returning state, queued_at
), counters as (
  update organizations set
    active_runs = active_runs + (select count(*) from ledger where state = 'ACTIVE'),
    queued_runs = queued_runs + (select count(*) from ledger where state = 'QUEUED'),
    last_queued_at = coalesce((select max(queued_at) from ledger), last_queued_at)
  where id = $1 and exists (select from ledger)
)
select false as is_cached, * from run
union all
select true, * from held`;

const toDate = (json: string | null) => (json === null ? null : new Date(json));

export class AdmissionLedger extends LegacyTables {
  async admit({ organizationId, runs, idempotency }: AdmissionRequest): Promise<AdmissionResult> {
    const { rows } = await this.guard(() =>
      this.pool.query<AdmitRow>(ADMIT, [
        organizationId,
        runs.map((run) => run.runId),
        idempotency?.environmentId ?? null,
        idempotency?.task ?? null,
        idempotency?.key ?? null,
        runs.map((run) => run.residency),
      ]),
    );
    const row = rows[0]!;
    if (row.held) return { admitted: [], heldRunId: row.held };
    const byRun = new Map(row.admitted.map((admission) => [admission.runId, admission]));
    const admitted = runs.flatMap(({ runId }) => {
      const admission = byRun.get(runId);
      if (!admission) return [];
      return [{ ...admission, queuedAt: toDate(admission.queuedAt), admittedAt: toDate(admission.admittedAt) }];
    });
    return { admitted };
  }

  /**
   * Admits and writes a legacy-resident run in one round trip (see `admitLegacyRunStatement`): the run as
   * written, or the unexpired run holding its key; undefined when the key's index refused it and nothing was
   * written (the caller takes the two-statement path, which resolves the holder).
   */
  async admitLegacyRun(run: NewRun & { id: string }): Promise<Created<Run> | undefined> {
    const { organizationId, environmentId, task, idempotencyKey } = run;
    const params = new Params(organizationId, idempotencyKey ?? null, environmentId, task);
    const { columns, placeholders } = columnsOf(
      runTable,
      { ...run, status: undefined, queuedAt: undefined, admittedAt: undefined },
      params,
    );
    const [row] = await this.select<Run & { isCached: boolean }>(
      runTable,
      admitLegacyRunStatement(columns, placeholders),
      params.values,
    );
    if (!row) return undefined;
    const { isCached, ...record } = row;
    return { record, isCached };
  }

  /** Releases the runs' rows (idempotent) and promotes into the slots they free; `runIds` may be empty. */
  async releaseAndPromote(organizationId: string, runIds: string[]): Promise<Promotion> {
    const { rows } = await this.guard(() =>
      this.pool.query<PromotionRow>(RELEASE_AND_PROMOTE, [organizationId, runIds]),
    );
    const promoted = (rows[0]?.promoted ?? []).map((row) => ({ ...row, admittedAt: new Date(row.admittedAt) }));
    return { promoted, incomplete: rows[0]?.incomplete ?? false };
  }

  /** The runs' ledger rows now (read after a run was written, to close the race with a promotion). */
  async find(runIds: string[]): Promise<Map<string, Admission>> {
    if (runIds.length === 0) return new Map();
    const { rows } = await this.guard(() =>
      this.pool.query<{ run_id: string; state: AdmissionState; queued_at: Date | null; admitted_at: Date | null }>(
        "select run_id, state, queued_at, admitted_at from admissions where run_id = any($1::text[])",
        [runIds],
      ),
    );
    return new Map(
      rows.map((row) => [
        row.run_id,
        { runId: row.run_id, state: row.state, queuedAt: row.queued_at, admittedAt: row.admitted_at },
      ]),
    );
  }

  /**
   * A page of ledger rows written before `createdBefore`, in (createdAt, runId) order after `after`: the sweep
   * checks that their runs still need them.
   */
  async page(createdBefore: Date, limit: number, after?: LedgerPosition): Promise<LedgerRow[]> {
    const { rows } = await this.guard(() =>
      this.pool.query<{ run_id: string; organization_id: string; state: AdmissionState; created_at: Date }>(
        `select run_id, organization_id, state, created_at from admissions
         where created_at < $1 and ($2::timestamptz is null or (created_at, run_id) > ($2, $3))
         order by created_at, run_id limit $4`,
        [createdBefore, after?.createdAt ?? null, after?.runId ?? "", limit],
      ),
    );
    return rows.map((row) => ({
      runId: row.run_id,
      organizationId: row.organization_id,
      state: row.state,
      createdAt: row.created_at,
    }));
  }

  /** Organisations with a free slot and a queued run: a promotion was missed. */
  async organizationsToPromote(): Promise<string[]> {
    const { rows } = await this.guard(() =>
      this.pool.query<{ id: string }>(
        "select id from organizations where queued_runs > 0 and active_runs < concurrency_limit",
      ),
    );
    return rows.map((row) => row.id);
  }

  async adoptQueued(
    organizationId: string,
    runs: { runId: string; queuedAt: Date; residency: Residency }[],
  ): Promise<void> {
    if (runs.length === 0) return;
    await this.guard(() =>
      this.pool.query(ADOPT, [
        organizationId,
        runs.map((run) => run.runId),
        runs.map((run) => run.queuedAt),
        runs.map((run) => run.residency),
      ]),
    );
  }
}
