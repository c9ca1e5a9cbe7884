import type { Config } from "../config.ts";
import type { RunEngine, Stores } from "../runs/engine.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";

/** The Hono environment of every route: bindings, validated config, and per-request API state. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    config: Config;
    engine: RunEngine;
    /** What routes read; changes to runs go through `engine`. */
    stores: Stores;
    /** Starts connecting to the run store ahead of the first query. */
    warmStores: () => void;
    environment: AuthenticatedEnvironment;
  };
};
