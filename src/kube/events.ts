import { PatchStrategy, setHeaderOptions, type CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type Downloader } from '../api/downloader.js';
import type { KubeClients } from './clients.js';

export type EventType = 'Normal' | 'Warning';

/** Records Kubernetes Events on Downloaders, for `kubectl describe`. */
export interface EventRecorder {
  record(object: Downloader, type: EventType, reason: string, message: string): void;
}

const COMPONENT = 'downloader-operator';
const AGGREGATION_WINDOW_MS = 10 * 60_000;

/**
 * Writes core/v1 Events. The same (object, type, reason, message) within ten minutes updates the
 * count of the existing Event instead of adding one, as kubelet and controller-manager do, so
 * a Downloader failing on every retry shows one line with a count. Failures to record are
 * logged and swallowed: an Event is never worth failing a reconcile for.
 */
export class KubeEventRecorder implements EventRecorder {
  private readonly recent = new Map<string, { name: string; count: number; at: number }>();

  constructor(
    private readonly kube: KubeClients,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  record(object: Downloader, type: EventType, reason: string, message: string): void {
    void this.write(object, type, reason, message).catch((err: unknown) => {
      this.log.warn({ err, reason }, 'could not record event');
    });
  }

  private async write(object: Downloader, type: EventType, reason: string, message: string) {
    const { namespace = 'default', name = '', uid } = object.metadata;
    const key = `${uid}\u0000${type}\u0000${reason}\u0000${message}`;
    const now = this.now();
    const previous = this.recent.get(key);
    this.prune(now.getTime());
    if (previous && now.getTime() - previous.at < AGGREGATION_WINDOW_MS) {
      previous.count += 1;
      previous.at = now.getTime();
      try {
        await this.kube.core.patchNamespacedEvent(
          { namespace, name: previous.name, body: { count: previous.count, lastTimestamp: now } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      } catch {
        // The Event expired or was deleted: record a new one below.
      }
    }
    const event: CoreV1Event = {
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: {
        apiVersion: API_VERSION,
        kind: KIND,
        name,
        namespace,
        uid,
        resourceVersion: object.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: process.env.HOSTNAME ?? COMPONENT,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const created = await this.kube.core.createNamespacedEvent({ namespace, body: event });
    this.recent.set(key, { name: created.metadata?.name ?? '', count: 1, at: now.getTime() });
  }

  private prune(nowMs: number): void {
    if (this.recent.size < 1000) return;
    for (const [key, entry] of this.recent) {
      if (nowMs - entry.at >= AGGREGATION_WINDOW_MS) this.recent.delete(key);
    }
  }
}
