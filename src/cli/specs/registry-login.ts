import { flag, text } from '../declare.js';

/** The options of a command that talks to an OCI registry (push, pull): who to be, and whether plain HTTP is fine. */
export interface RegistryLoginFlags {
  username?: string;
  passwordStdin?: boolean;
  insecure?: boolean;
}

export const registryLoginOptions = {
  username: text('--username <user>', 'registry user (default: MODELCTL_OCI_USERNAME, else the Docker config); with --password-stdin'),
  passwordStdin: flag('--password-stdin', 'read the registry password or token from stdin (never printed or stored)'),
  insecure: flag('--insecure', 'plain HTTP to a registry that is not on loopback (loopback always uses HTTP)'),
};
