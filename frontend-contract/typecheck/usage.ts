// A small frontend written against the generated types, compiled (never run) by
// `npm run typecheck` in CI: a schema or operation change that breaks what a frontend
// relies on (a field removed, a type or nullability changed, an operation renamed) fails
// here, not in the browser. It is also the example the README points to.

import type {
  AdminEventsQuery,
  AdminProjectionsQuery,
  AdminRebuildProjectionsMutationVariables,
  AdminSyncOdooMutation,
  AdminSyncOdooMutationVariables,
  AdminSyncRunsQuery,
  ChangeKind,
  DashboardMetricsFragment,
  DashboardQuery,
  DashboardQueryVariables,
  DashboardScope,
  DashboardUpdatedSubscription,
  OpportunitiesQuery,
  OpportunitiesQueryVariables,
  OpportunityChangedSubscription,
  OpportunityDetailQuery,
  OpportunityDetailQueryVariables,
  OrgChartQuery,
  ProfileFragment,
  StagesQuery,
  UserProfileQuery,
  UserProfileQueryVariables,
  ViewerProfileQuery,
} from "../generated/graphql";

/** Each operation's name, with its result and variables: what a typed client needs. */
export interface Operations {
  Dashboard: { data: DashboardQuery; variables: DashboardQueryVariables };
  Opportunities: { data: OpportunitiesQuery; variables: OpportunitiesQueryVariables };
  OpportunityDetail: { data: OpportunityDetailQuery; variables: OpportunityDetailQueryVariables };
  UserProfile: { data: UserProfileQuery; variables: UserProfileQueryVariables };
  ViewerProfile: { data: ViewerProfileQuery; variables: Record<string, never> };
  OrgChart: { data: OrgChartQuery; variables: Record<string, never> };
  Stages: { data: StagesQuery; variables: Record<string, never> };
  DashboardUpdated: { data: DashboardUpdatedSubscription; variables: Record<string, never> };
  OpportunityChanged: { data: OpportunityChangedSubscription; variables: Record<string, never> };
  AdminSyncOdoo: { data: AdminSyncOdooMutation; variables: AdminSyncOdooMutationVariables };
  AdminRebuildProjections: {
    data: unknown;
    variables: AdminRebuildProjectionsMutationVariables;
  };
  AdminSyncRuns: { data: AdminSyncRunsQuery; variables: { last?: number } };
  AdminProjections: { data: AdminProjectionsQuery; variables: Record<string, never> };
  AdminEvents: { data: AdminEventsQuery; variables: { first?: number; after?: string } };
}

export type Send = <Name extends keyof Operations>(
  operationName: Name,
  variables: Operations[Name]["variables"],
) => Promise<Operations[Name]["data"]>;

// -- the dashboard -------------------------------------------------------------------------

const scopeLabels: Record<DashboardScope, string> = {
  OWN: "My deals",
  TEAM: "My team",
  ALL: "Whole company",
};

export function kpiLine(metrics: DashboardMetricsFragment): string {
  const winRate = metrics.winRate === null ? "n/a" : `${(metrics.winRate * 100).toFixed(1)}%`;
  const average = metrics.averageDealSize?.toFixed(0) ?? "n/a";
  return `${metrics.openCount} open, ${metrics.pipelineValue.toFixed(0)} in the pipeline, win rate ${winRate}, average ${average}`;
}

export function dashboardTitle(dashboard: DashboardQuery["dashboard"]): string {
  return `${dashboard.viewer?.name ?? "Admin"}: ${scopeLabels[dashboard.scope]} (event ${dashboard.asOf})`;
}

export function stageBars(
  dashboard: DashboardQuery["dashboard"] | DashboardUpdatedSubscription["dashboardUpdated"],
): Array<{ label: string; share: number }> {
  const max = Math.max(1, ...dashboard.byStage.map((s) => s.value));
  return dashboard.byStage.map((s) => ({ label: `${s.stage.name} (${s.count})`, share: s.value / max }));
}

export function teamRows(dashboard: DashboardUpdatedSubscription["dashboardUpdated"]): string[] {
  return dashboard.team.map(
    (row) => `${row.salesperson.name}: ${row.metrics.openCount} open, ${row.metrics.wonValue} won`,
  );
}

// -- the opportunity list, kept live -----------------------------------------------------------

export type ListedOpportunity = OpportunitiesQuery["opportunities"]["edges"][number]["node"];
type Change = OpportunityChangedSubscription["opportunityChanged"];

const kinds: Record<ChangeKind, string> = { CREATED: "new", UPDATED: "changed", REMOVED: "gone" };

export function applyChange(list: ListedOpportunity[], change: Change): ListedOpportunity[] {
  const rest = list.filter((o) => o.id !== change.opportunityId);
  const previous = list.find((o) => o.id === change.opportunityId);
  if (change.kind === "REMOVED" || change.opportunity === null) return rest;
  const updated: ListedOpportunity = {
    odooId: previous?.odooId ?? 0,
    probability: previous?.probability ?? 0,
    account: previous?.account ?? null,
    ...change.opportunity,
  };
  return [updated, ...rest];
}

export function describe(change: Change): string {
  return `${kinds[change.kind]}: ${change.opportunity?.name ?? change.opportunityId} at ${change.position}`;
}

export async function firstPage(send: Send): Promise<ListedOpportunity[]> {
  const data = await send("Opportunities", {
    filter: { status: ["OPEN"], minRevenue: 1000 },
    orderBy: "REVENUE_DESC",
    first: 20,
  });
  return data.opportunities.edges.map((edge) => edge.node);
}

export async function detail(send: Send, id: string): Promise<string | null> {
  const data = await send("OpportunityDetail", { id, historyFirst: 5 });
  const opportunity = data.opportunity;
  if (opportunity === null) return null;
  const last = opportunity.history[0];
  return `${opportunity.name} (${opportunity.stage?.name ?? "no stage"}), last event ${last?.type ?? "none"}`;
}

// -- people and admin screens --------------------------------------------------------------------

export function profileLine(profile: ProfileFragment): string {
  const manager = profile.hierarchy.manager?.name ?? "nobody";
  return `${profile.name} <${profile.email}> reports to ${manager}, ${profile.hierarchy.reportsCount} reports`;
}

export function orgLines(chart: OrgChartQuery["orgChart"]): string[] {
  return chart.map((node) => `${"  ".repeat(node.depth)}${node.person.name}`);
}

export function stageNames(stages: StagesQuery["stages"]): string[] {
  return stages.filter((s) => !s.isWon).map((s) => s.name);
}

export function colleague(user: UserProfileQuery["user"]): string {
  return user === null ? "not visible" : `${user.name} (${user.odoo.linkedBy})`;
}

export function viewerName(viewer: ViewerProfileQuery["viewer"]): string {
  return viewer?.name ?? "an admin who is not an Odoo user";
}

export function syncSummary(run: AdminSyncOdooMutation["syncOdoo"]): string {
  return `${run.mode} ${run.status}: ${run.stats.eventsAppended} events${run.error ? `, ${run.error}` : ""}`;
}

export function lagging(projections: AdminProjectionsQuery["projections"]): string[] {
  return projections.filter((p) => p.lag > 0).map((p) => `${p.name} (${p.state}) lags ${p.lag}`);
}

export function recentRuns(runs: AdminSyncRunsQuery["syncRuns"]): number {
  return runs.filter((r) => r.finishedAt !== null).length;
}

export function eventTypes(events: AdminEventsQuery["events"]): string[] {
  return events.edges.map((edge) => `${edge.node.position} ${edge.node.type}`);
}
