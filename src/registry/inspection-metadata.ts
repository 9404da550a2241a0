import type { Inspection } from '../formats/types.js';

/** What a manifest's metadata holds about its files, from their inspection (register, pull, export share it). */
export function buildMetadata(inspection: Inspection): Record<string, unknown> {
  return {
    ...inspection.metadata,
    ...(inspection.primary ? { primary: inspection.primary } : {}),
    ...(inspection.parameters !== undefined ? { parameters: inspection.parameters } : {}),
    ...(inspection.dtypes ? { dtypes: inspection.dtypes } : {}),
    ...(inspection.taskReason ? { taskReason: inspection.taskReason } : {}),
    pickle: inspection.pickle,
  };
}
