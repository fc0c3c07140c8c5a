/** The product version (compiled in; the `VERSION` env variable is ignored). */
export const VERSION = "0.1.0";
