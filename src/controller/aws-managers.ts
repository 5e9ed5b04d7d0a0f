import type { ConnectionManager } from '../aws/connection.js';
import type { ExecutionReader } from '../aws/executions.js';
import type { ProxyManager } from '../aws/proxy.js';
import type { RoleManager } from '../aws/roles.js';
import type { ScheduleManager } from '../aws/schedule.js';
import type { StateMachineManager } from '../aws/state-machine.js';
import type { TableManager } from '../aws/table.js';

/** The AWS modules one reconciler uses, created once per process. */
export interface AwsManagers {
  proxy: ProxyManager;
  table: TableManager;
  roles: RoleManager;
  stateMachine: StateMachineManager;
  schedule: ScheduleManager;
  executions: ExecutionReader;
  /** EventBridge connections of Downloaders with transport HttpTask. */
  connection: ConnectionManager;
}
