/**
 * SharePoint's internal column names: characters other than letters, digits and `_` are escaped as
 * `_xHHHH_` (space → `_x0020_`, graph.md "Addressing"), a leading digit too, and the result is cut to
 * its first 32 characters (http://benhuang.blogspot.com/2009/08/32-character-limit-in-sharepoint-lists.html,
 * "KSNF_x0020_WebPart_x0020_Update_"). The conformance probe checks the cut on a tenant.
 */
export const MAX_INTERNAL_NAME_LENGTH = 32;

export function escapedInternalName(name: string): string {
  let out = '';
  [...name].forEach((ch, index) => {
    if (/[A-Za-z_]/.test(ch) || (index > 0 && /[0-9]/.test(ch))) out += ch;
    else for (const unit of ch.split('')) out += `_x${unit.charCodeAt(0).toString(16).padStart(4, '0')}_`;
  });
  return out;
}

/** The internal name SharePoint gives a column requested with `name` (before de-duplication). */
export function internalNameFor(name: string): string {
  return escapedInternalName(name).slice(0, MAX_INTERNAL_NAME_LENGTH);
}
