import { packageVersion } from './util/package-root.js';

/** The package version, read once from modelctl's package.json. */
export const VERSION: string = packageVersion();

export const TOOL = `modelctl ${VERSION}`;

/** What every request to a Hub (and to a URL) says it comes from. */
export const USER_AGENT = `modelctl/${VERSION}`;
