/**
 * Server-rendered `children` of an island travel as HTML and come back as
 * this element on both sides, so hydration finds the same DOM. The browser
 * runtime gives it `display: contents` through the CSSOM, which a strict CSP
 * (no `'unsafe-inline'` styles) still allows.
 *
 * @example
 * ```ts
 * slotVNode("<p>static</p>"); // <frsh-slot><p>static</p></frsh-slot>
 * ```
 * @module
 */
import { h, type VNode } from "preact";

/**
 * The vnode standing for an island's server-rendered children.
 *
 * @example
 * ```ts
 * const children = slotVNode("<b>hi</b>");
 * ```
 */
export function slotVNode(html: string): VNode {
  return h("frsh-slot", {
    dangerouslySetInnerHTML: { __html: html },
  }) as unknown as VNode;
}
