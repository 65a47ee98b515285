/*
 * Image references, checked against the grammar of the OCI distribution reference
 * (github.com/distribution/reference, `reference.go`), the one Docker and containerd parse:
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [ domain "/" ] path-component [ "/" path-component ]*
 *   domain           := host [ ":" port-number ]
 *   host             := domain-name | "[" IPv6address "]"
 *   domain-name      := domain-component [ "." domain-component ]*
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   path-component   := alpha-numeric [ separator alpha-numeric ]*
 *   alpha-numeric    := /[a-z0-9]+/
 *   separator        := /[_.]|__|[-]+/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" hex
 *   algorithm        := component [ /[-_+.]/ component ]*  (a component: a letter, then letters or digits)
 *   hex              := /[0-9a-fA-F]{32,}/
 *
 * and a name of at most 255 characters. A build names its image in `.kiln.yml`: an agent must
 * never be handed something a registry client would choke on, so the pipeline refuses it first.
 */

export const MAX_IMAGE_NAME_LENGTH = 255;
/** Far above any real digest (sha512 is 128 hex digits): bounds the work on hostile input. */
const MAX_REFERENCE_LENGTH = 1024;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
);
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** What is wrong with `reference` as an image reference, or undefined when it is one. */
export function imageReferenceProblem(reference: string): string | undefined {
  const shown = JSON.stringify(reference.length > 80 ? `${reference.slice(0, 77)}...` : reference);
  const invalid = (why: string) => `invalid image reference ${shown}: ${why}`;
  if (reference.length > MAX_REFERENCE_LENGTH) {
    return invalid(`longer than ${MAX_REFERENCE_LENGTH} characters`);
  }
  // Neither a name nor a tag may hold "@", so the first one starts the digest.
  const at = reference.indexOf('@');
  const beforeDigest = at === -1 ? reference : reference.slice(0, at);
  if (at !== -1) {
    const digest = reference.slice(at + 1);
    if (!DIGEST.test(digest)) {
      return invalid(
        `the digest ${JSON.stringify(digest)} must be "algorithm:hex" with at least 32 hex digits, e.g. sha256:…`,
      );
    }
  }
  // A tag follows the last ":" after the last "/"; a ":" before it belongs to a registry port.
  const colon = beforeDigest.indexOf(':', beforeDigest.lastIndexOf('/') + 1);
  const name = colon === -1 ? beforeDigest : beforeDigest.slice(0, colon);
  if (colon !== -1) {
    const tag = beforeDigest.slice(colon + 1);
    if (!TAG.test(tag)) {
      return invalid(
        `the tag ${JSON.stringify(tag)} must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`,
      );
    }
  }
  if (name === '') return invalid('the name is empty');
  if (name.length > MAX_IMAGE_NAME_LENGTH) {
    return invalid(`the name is longer than ${MAX_IMAGE_NAME_LENGTH} characters`);
  }
  const components = name.split('/');
  // The first component may be a registry (`registry.example.com:5000/app`) when more follow.
  const first = components[0] ?? '';
  const path =
    components.length > 1 && !PATH_COMPONENT.test(first) && DOMAIN.test(first)
      ? components.slice(1)
      : components;
  for (const component of path) {
    if (!PATH_COMPONENT.test(component)) {
      return invalid(
        `the path component ${JSON.stringify(component)} must be lowercase letters and digits, ` +
          'separated by ".", "_", "__" or dashes',
      );
    }
  }
  return undefined;
}
