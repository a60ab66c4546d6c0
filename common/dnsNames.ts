// Kubernetes name formats (k8s.io/apimachinery pkg/util/validation), in one place. Pure.

export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const MAX_LABEL_LENGTH = 63;
export const MAX_SUBDOMAIN_LENGTH = 253;

/** IsDNS1035Label: a lowercase label starting with a letter, at most 63 characters. */
export function isDns1035Label(value: string): boolean {
  return value.length <= MAX_LABEL_LENGTH && DNS1035_LABEL.test(value);
}

/** IsDNS1123Label: a lowercase label, at most 63 characters (most object names, namespaces). */
export function isDns1123Label(value: string): boolean {
  return value.length <= MAX_LABEL_LENGTH && DNS1123_LABEL.test(value);
}

/** IsDNS1123Subdomain: dot-separated lowercase labels, at most 253 characters (object names). */
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= MAX_SUBDOMAIN_LENGTH && DNS1123_SUBDOMAIN.test(value);
}

/** A host name: a DNS-1123 subdomain whose every label also fits in 63 characters, as DNS needs. */
export function isDnsHostName(value: string): boolean {
  return (
    isDns1123Subdomain(value) && value.split(".").every((label) => label.length <= MAX_LABEL_LENGTH)
  );
}
