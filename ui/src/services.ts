// The services' names as the windows show them, in one place.

import type { ServiceId } from "./bindings/ServiceId";

/** Each service's name for people. */
export const SERVICE_NAMES: Record<ServiceId, string> = {
  ollama: "Ollama",
  app: "Codebase Gardener",
};
