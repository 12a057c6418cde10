export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** A calendar date, YYYY-MM-DD */
  Date: { input: string; output: string; }
  /** ISO-8601 date and time, UTC */
  DateTime: { input: string; output: string; }
  /** The `JSON` scalar type represents JSON values as specified by [ECMA-404](https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf). */
  JSON: { input: unknown; output: unknown; }
};

export type Account = {
  name: Scalars['String']['output'];
  odooId: Scalars['Int']['output'];
};

export type ChangeKind =
  | 'CREATED'
  | 'REMOVED'
  | 'UPDATED';

export type Dashboard = {
  /** The event-store position this reflects */
  asOf: Scalars['Int']['output'];
  byStage: Array<StageMetrics>;
  metrics: Metrics;
  scope: DashboardScope;
  team: Array<SalespersonMetrics>;
  updatedAt: Scalars['DateTime']['output'];
  viewer: Maybe<UserProfile>;
};

export type DashboardScope =
  | 'ALL'
  | 'OWN'
  | 'TEAM';

export type EventConnection = {
  edges: Array<EventEdge>;
  pageInfo: PageInfo;
};

export type EventEdge = {
  cursor: Scalars['String']['output'];
  node: StoredEvent;
};

export type EventFilter = {
  aggregateId?: InputMaybe<Scalars['String']['input']>;
  aggregateType?: InputMaybe<Scalars['String']['input']>;
  /** occurredAt >= from */
  from?: InputMaybe<Scalars['DateTime']['input']>;
  /** occurredAt < to */
  to?: InputMaybe<Scalars['DateTime']['input']>;
  types?: InputMaybe<Array<Scalars['String']['input']>>;
};

export type Hierarchy = {
  isManager: Scalars['Boolean']['output'];
  manager: Maybe<Person>;
  reportsCount: Scalars['Int']['output'];
  subordinates: Array<Person>;
};

export type HistoryEntry = {
  data: Scalars['JSON']['output'];
  occurredAt: Scalars['DateTime']['output'];
  position: Scalars['Int']['output'];
  type: Scalars['String']['output'];
};

export type LinkMethod =
  | 'EMAIL'
  | 'NONE'
  | 'USER_ID';

export type Metrics = {
  averageDealSize: Maybe<Scalars['Float']['output']>;
  lostCount: Scalars['Int']['output'];
  openCount: Scalars['Int']['output'];
  pipelineValue: Scalars['Float']['output'];
  totalCount: Scalars['Int']['output'];
  weightedPipelineValue: Scalars['Float']['output'];
  /** A fraction from 0 to 1 */
  winRate: Maybe<Scalars['Float']['output']>;
  wonCount: Scalars['Int']['output'];
  wonValue: Scalars['Float']['output'];
};

export type Mutation = {
  /** Admin only. No names: every projection. */
  rebuildProjections: Array<ProjectionStatus>;
  /** Admin only. wait: return once the run finished and every projection has caught up to its last event. Only one sync runs at a time. */
  syncOdoo: SyncRun;
};


export type MutationRebuildProjectionsArgs = {
  names?: InputMaybe<Array<Scalars['String']['input']>>;
};


export type MutationSyncOdooArgs = {
  mode?: InputMaybe<SyncMode>;
  wait?: InputMaybe<Scalars['Boolean']['input']>;
};

export type OdooLink = {
  employeeId: Maybe<Scalars['Int']['output']>;
  linkedBy: LinkMethod;
  managerEmployeeId: Maybe<Scalars['Int']['output']>;
  userId: Maybe<Scalars['Int']['output']>;
};

export type Opportunity = {
  account: Maybe<Account>;
  closedAt: Maybe<Scalars['DateTime']['output']>;
  createdAt: Scalars['DateTime']['output'];
  deadline: Maybe<Scalars['Date']['output']>;
  expectedRevenue: Scalars['Float']['output'];
  /** The opportunity's events, newest first. */
  history: Array<HistoryEntry>;
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  odooId: Scalars['Int']['output'];
  probability: Scalars['Float']['output'];
  salesperson: Maybe<UserProfile>;
  stage: Maybe<Stage>;
  status: OpportunityStatus;
  team: Maybe<SalesTeam>;
  updatedAt: Scalars['DateTime']['output'];
  weightedRevenue: Scalars['Float']['output'];
};


export type OpportunityHistoryArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type OpportunityChange = {
  kind: ChangeKind;
  opportunity: Maybe<Opportunity>;
  opportunityId: Scalars['ID']['output'];
  position: Scalars['Int']['output'];
};

export type OpportunityConnection = {
  edges: Array<OpportunityEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type OpportunityEdge = {
  cursor: Scalars['String']['output'];
  node: Opportunity;
};

export type OpportunityFilter = {
  /** Exclusive */
  deadlineAfter?: InputMaybe<Scalars['Date']['input']>;
  /** Exclusive */
  deadlineBefore?: InputMaybe<Scalars['Date']['input']>;
  minRevenue?: InputMaybe<Scalars['Float']['input']>;
  salespersonIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  /** Case-insensitive, in the name and account */
  search?: InputMaybe<Scalars['String']['input']>;
  stageIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  /** Default: OPEN, WON and LOST (ARCHIVED only when asked) */
  status?: InputMaybe<Array<OpportunityStatus>>;
};

export type OpportunityOrder =
  | 'DEADLINE_ASC'
  | 'NAME_ASC'
  | 'REVENUE_DESC'
  | 'UPDATED_DESC';

export type OpportunityStatus =
  | 'ARCHIVED'
  | 'LOST'
  | 'OPEN'
  | 'WON';

export type OrgNode = {
  depth: Scalars['Int']['output'];
  managerEmployeeId: Maybe<Scalars['Int']['output']>;
  person: Person;
};

export type PageInfo = {
  endCursor: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

/** A node of the org chart: an employee, or a user with none. */
export type Person = {
  email: Maybe<Scalars['String']['output']>;
  employeeId: Maybe<Scalars['Int']['output']>;
  name: Scalars['String']['output'];
  /** The UserProfile id, when the person is a user */
  userId: Maybe<Scalars['ID']['output']>;
};

export type ProjectionState =
  | 'CATCHING_UP'
  | 'FAILED'
  | 'LIVE'
  | 'PAUSED'
  | 'REBUILDING';

export type ProjectionStatus = {
  eventsPerSecond: Maybe<Scalars['Float']['output']>;
  headPosition: Scalars['Int']['output'];
  lag: Scalars['Int']['output'];
  lastError: Maybe<Scalars['String']['output']>;
  name: Scalars['String']['output'];
  position: Scalars['Int']['output'];
  /** 0 to 1 while catching up/rebuilding */
  progress: Maybe<Scalars['Float']['output']>;
  state: ProjectionState;
  updatedAt: Scalars['DateTime']['output'];
};

export type Query = {
  dashboard: Dashboard;
  /** Admin only. The cursor is the event's position. */
  events: EventConnection;
  opportunities: OpportunityConnection;
  /** Null when unknown or not visible. */
  opportunity: Maybe<Opportunity>;
  /** The viewer's subtree, viewer first; admins: the whole org. */
  orgChart: Array<OrgNode>;
  /** Admin only. */
  projections: Array<ProjectionStatus>;
  /** Ordered by sequence, then name. */
  stages: Array<Stage>;
  /** Admin only. Newest first. */
  syncRuns: Array<SyncRun>;
  /** Null when unknown or not visible. */
  user: Maybe<UserProfile>;
  /** Null for an admin who is not an Odoo user. */
  viewer: Maybe<UserProfile>;
};


export type QueryEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<EventFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryOpportunitiesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<OpportunityFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  orderBy?: InputMaybe<OpportunityOrder>;
};


export type QueryOpportunityArgs = {
  id: Scalars['ID']['input'];
};


export type QuerySyncRunsArgs = {
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryUserArgs = {
  id: Scalars['ID']['input'];
};

export type SalesTeam = {
  name: Scalars['String']['output'];
  odooId: Scalars['Int']['output'];
};

export type SalespersonMetrics = {
  metrics: Metrics;
  salesperson: UserProfile;
};

export type Stage = {
  id: Scalars['ID']['output'];
  isWon: Scalars['Boolean']['output'];
  name: Scalars['String']['output'];
  odooId: Scalars['Int']['output'];
  sequence: Scalars['Int']['output'];
};

export type StageMetrics = {
  count: Scalars['Int']['output'];
  stage: Stage;
  value: Scalars['Float']['output'];
};

export type StoredEvent = {
  aggregateId: Scalars['String']['output'];
  aggregateType: Scalars['String']['output'];
  data: Scalars['JSON']['output'];
  id: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  position: Scalars['Int']['output'];
  /** Projections whose checkpoint has passed this event */
  processedBy: Array<Scalars['String']['output']>;
  recordedAt: Scalars['DateTime']['output'];
  type: Scalars['String']['output'];
  version: Scalars['Int']['output'];
};

export type Subscription = {
  /** The current dashboard at once, then one per change. */
  dashboardUpdated: Dashboard;
  /** Changes to opportunities visible to the viewer. */
  opportunityChanged: OpportunityChange;
};

export type SyncMode =
  | 'FULL'
  | 'INCREMENTAL';

export type SyncRun = {
  error: Maybe<Scalars['String']['output']>;
  finishedAt: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  mode: SyncMode;
  startedAt: Scalars['DateTime']['output'];
  stats: SyncStats;
  status: SyncStatus;
  trigger: Scalars['String']['output'];
};

export type SyncStats = {
  archived: Scalars['Int']['output'];
  created: Scalars['Int']['output'];
  deleted: Scalars['Int']['output'];
  eventsAppended: Scalars['Int']['output'];
  fetched: Scalars['Int']['output'];
  rejected: Scalars['Int']['output'];
  unchanged: Scalars['Int']['output'];
  updated: Scalars['Int']['output'];
};

export type SyncStatus =
  | 'FAILED'
  | 'RUNNING'
  | 'SUCCEEDED';

export type UserProfile = {
  active: Scalars['Boolean']['output'];
  email: Scalars['String']['output'];
  hierarchy: Hierarchy;
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  odoo: OdooLink;
};

export type AdminEventsQueryVariables = Exact<{
  filter?: InputMaybe<EventFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type AdminEventsQuery = { events: { pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ cursor: string, node: { id: string, position: number, type: string, aggregateType: string, aggregateId: string, version: number, occurredAt: string, recordedAt: string, data: unknown, processedBy: Array<string> } }> } };

export type AdminProjectionsQueryVariables = Exact<{ [key: string]: never; }>;


export type AdminProjectionsQuery = { projections: Array<{ name: string, state: ProjectionState, position: number, headPosition: number, lag: number, eventsPerSecond: number | null, progress: number | null, lastError: string | null, updatedAt: string }> };

export type ProjectionHealthFragment = { name: string, state: ProjectionState, position: number, headPosition: number, lag: number, eventsPerSecond: number | null, progress: number | null, lastError: string | null, updatedAt: string };

export type AdminRebuildProjectionsMutationVariables = Exact<{
  names?: InputMaybe<Array<Scalars['String']['input']> | Scalars['String']['input']>;
}>;


export type AdminRebuildProjectionsMutation = { rebuildProjections: Array<{ name: string, state: ProjectionState, position: number, headPosition: number, lag: number, progress: number | null, lastError: string | null, updatedAt: string }> };

export type AdminSyncOdooMutationVariables = Exact<{
  mode?: InputMaybe<SyncMode>;
  wait?: InputMaybe<Scalars['Boolean']['input']>;
}>;


export type AdminSyncOdooMutation = { syncOdoo: { id: string, mode: SyncMode, trigger: string, status: SyncStatus, startedAt: string, finishedAt: string | null, error: string | null, stats: { fetched: number, created: number, updated: number, unchanged: number, archived: number, deleted: number, rejected: number, eventsAppended: number } } };

export type AdminSyncRunsQueryVariables = Exact<{
  last?: InputMaybe<Scalars['Int']['input']>;
}>;


export type AdminSyncRunsQuery = { syncRuns: Array<{ id: string, mode: SyncMode, trigger: string, status: SyncStatus, startedAt: string, finishedAt: string | null, error: string | null, stats: { fetched: number, created: number, updated: number, unchanged: number, archived: number, deleted: number, rejected: number, eventsAppended: number } }> };

export type DashboardQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardQuery = { dashboard: { scope: DashboardScope, asOf: number, updatedAt: string, viewer: { id: string, name: string } | null, metrics: { totalCount: number, openCount: number, wonCount: number, lostCount: number, pipelineValue: number, weightedPipelineValue: number, wonValue: number, winRate: number | null, averageDealSize: number | null }, byStage: Array<{ count: number, value: number, stage: { id: string, name: string, sequence: number, isWon: boolean } }>, team: Array<{ salesperson: { id: string, name: string, email: string, active: boolean }, metrics: { totalCount: number, openCount: number, wonCount: number, lostCount: number, pipelineValue: number, weightedPipelineValue: number, wonValue: number, winRate: number | null, averageDealSize: number | null } }> } };

export type DashboardMetricsFragment = { totalCount: number, openCount: number, wonCount: number, lostCount: number, pipelineValue: number, weightedPipelineValue: number, wonValue: number, winRate: number | null, averageDealSize: number | null };

export type DashboardUpdatedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type DashboardUpdatedSubscription = { dashboardUpdated: { scope: DashboardScope, asOf: number, updatedAt: string, metrics: { totalCount: number, openCount: number, wonCount: number, lostCount: number, pipelineValue: number, weightedPipelineValue: number, wonValue: number, winRate: number | null, averageDealSize: number | null }, byStage: Array<{ count: number, value: number, stage: { id: string, name: string } }>, team: Array<{ salesperson: { id: string, name: string }, metrics: { openCount: number, pipelineValue: number, wonValue: number, winRate: number | null } }> } };

export type OpportunitiesQueryVariables = Exact<{
  filter?: InputMaybe<OpportunityFilter>;
  orderBy?: InputMaybe<OpportunityOrder>;
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type OpportunitiesQuery = { opportunities: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ cursor: string, node: { id: string, odooId: number, name: string, status: OpportunityStatus, expectedRevenue: number, probability: number, weightedRevenue: number, deadline: string | null, updatedAt: string, stage: { id: string, name: string } | null, salesperson: { id: string, name: string } | null, account: { odooId: number, name: string } | null } }> } };

export type OpportunityChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type OpportunityChangedSubscription = { opportunityChanged: { kind: ChangeKind, opportunityId: string, position: number, opportunity: { id: string, name: string, status: OpportunityStatus, expectedRevenue: number, weightedRevenue: number, deadline: string | null, updatedAt: string, stage: { id: string, name: string } | null, salesperson: { id: string, name: string } | null } | null } };

export type OpportunityDetailQueryVariables = Exact<{
  id: Scalars['ID']['input'];
  historyFirst?: InputMaybe<Scalars['Int']['input']>;
}>;


export type OpportunityDetailQuery = { opportunity: { id: string, odooId: number, name: string, status: OpportunityStatus, expectedRevenue: number, probability: number, weightedRevenue: number, deadline: string | null, closedAt: string | null, createdAt: string, updatedAt: string, stage: { id: string, odooId: number, name: string, sequence: number, isWon: boolean } | null, salesperson: { id: string, name: string, email: string } | null, account: { odooId: number, name: string } | null, team: { odooId: number, name: string } | null, history: Array<{ type: string, occurredAt: string, position: number, data: unknown }> } | null };

export type OrgChartQueryVariables = Exact<{ [key: string]: never; }>;


export type OrgChartQuery = { orgChart: Array<{ depth: number, managerEmployeeId: number | null, person: { employeeId: number | null, userId: string | null, name: string, email: string | null } }> };

export type StagesQueryVariables = Exact<{ [key: string]: never; }>;


export type StagesQuery = { stages: Array<{ id: string, odooId: number, name: string, sequence: number, isWon: boolean }> };

export type UserProfileQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type UserProfileQuery = { user: { id: string, email: string, name: string, active: boolean, odoo: { employeeId: number | null, linkedBy: LinkMethod }, hierarchy: { isManager: boolean, reportsCount: number, manager: { userId: string | null, name: string } | null } } | null };

export type ViewerProfileQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerProfileQuery = { viewer: { id: string, email: string, name: string, active: boolean, odoo: { userId: number | null, employeeId: number | null, managerEmployeeId: number | null, linkedBy: LinkMethod }, hierarchy: { isManager: boolean, reportsCount: number, manager: { employeeId: number | null, userId: string | null, name: string, email: string | null } | null, subordinates: Array<{ employeeId: number | null, userId: string | null, name: string, email: string | null }> } } | null };

export type ProfileFragment = { id: string, email: string, name: string, active: boolean, odoo: { userId: number | null, employeeId: number | null, managerEmployeeId: number | null, linkedBy: LinkMethod }, hierarchy: { isManager: boolean, reportsCount: number, manager: { employeeId: number | null, userId: string | null, name: string, email: string | null } | null, subordinates: Array<{ employeeId: number | null, userId: string | null, name: string, email: string | null }> } };
