import type { V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { LeaseRecord, LeaseStore } from '../controller/leader.js';
import { isKubeNotFound, type KubeClients } from './clients.js';

/** The LeaseStore of a coordination.k8s.io/v1 Lease; updates carry the resourceVersion. */
export class KubeLeaseStore implements LeaseStore {
  constructor(
    private readonly kube: KubeClients,
    private readonly namespace: string,
    private readonly name: string,
  ) {}

  async get(): Promise<LeaseRecord | undefined> {
    try {
      const lease = await this.kube.coordination.readNamespacedLease({
        name: this.name,
        namespace: this.namespace,
      });
      return toRecord(lease);
    } catch (err) {
      if (isKubeNotFound(err)) return undefined;
      throw err;
    }
  }

  async create(record: LeaseRecord): Promise<LeaseRecord> {
    const lease = await this.kube.coordination.createNamespacedLease({
      namespace: this.namespace,
      body: this.toLease(record),
    });
    return toRecord(lease);
  }

  async update(record: LeaseRecord): Promise<LeaseRecord> {
    const lease = await this.kube.coordination.replaceNamespacedLease({
      name: this.name,
      namespace: this.namespace,
      body: this.toLease(record),
    });
    return toRecord(lease);
  }

  private toLease(record: LeaseRecord): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        resourceVersion: record.resourceVersion,
      },
      spec: {
        holderIdentity: record.holderIdentity,
        leaseDurationSeconds: record.leaseDurationSeconds,
        acquireTime: microTime(record.acquireTime),
        renewTime: microTime(record.renewTime),
        leaseTransitions: record.leaseTransitions,
      },
    };
  }
}

function toRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity,
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 15,
    acquireTime: spec.acquireTime ? new Date(spec.acquireTime) : undefined,
    renewTime: spec.renewTime ? new Date(spec.renewTime) : undefined,
    leaseTransitions: spec.leaseTransitions ?? 0,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

/**
 * A MicroTime as the API server parses it (six fractional digits). client-node types the field
 * as a Date but passes strings through unchanged, and its Date serialisation has three digits,
 * which the API server refuses.
 */
function microTime(date: Date | undefined): V1MicroTime | undefined {
  if (!date) return undefined;
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as V1MicroTime;
}
