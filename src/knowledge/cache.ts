import type { Logger } from "../log.ts";
import { createKnowledgeBase, type KnowledgeBase } from "./kb.ts";

/**
 * Websites' own knowledge bases (a folder each), read once and again only when the folder's
 * stamp changes (an edit, a new file). A folder that cannot be read falls back to the default.
 */
export function createKbCache(options: {
  fallback: KnowledgeBase;
  /** Reads a folder's articles (Node); absent on Workers, which have no folders. */
  load?: ((dir: string) => Array<{ name: string; content: string }>) | undefined;
  /** Changes when a file of that folder does (mtimes). */
  stamp?: ((dir: string) => string) | undefined;
  log: Logger;
}) {
  const { log } = options;
  const byDir = new Map<string, { kb: KnowledgeBase; stamp: string | undefined }>();
  const ignored = new Set<string>();

  function read(
    websiteId: string,
    dir: string,
    load: (dir: string) => Array<{ name: string; content: string }>,
  ) {
    let stamp: string | undefined;
    try {
      stamp = options.stamp?.(dir);
    } catch {
      stamp = undefined; // unreadable: the load below says why
    }
    const hit = byDir.get(dir);
    if (hit && hit.stamp === stamp) return hit.kb;
    let loaded = options.fallback;
    try {
      loaded = createKnowledgeBase(load(dir));
    } catch (error) {
      // A missing folder must not stop drafting: the default knowledge base stands in.
      log.error({ websiteId, kbDir: dir, err: String(error) }, "website knowledge base unreadable");
    }
    byDir.set(dir, { kb: loaded, stamp });
    return loaded;
  }

  return {
    /** The website's own knowledge base, or undefined when it has none (or this runtime reads no folders). */
    forWebsite(websiteId: string, dir: string | undefined): KnowledgeBase | undefined {
      if (!dir) return undefined;
      if (options.load) return read(websiteId, dir, options.load);
      if (!ignored.has(websiteId)) {
        ignored.add(websiteId);
        log.warn({ websiteId, kbDir: dir }, "kbDir ignored: this runtime has no folders to read");
      }
      return undefined;
    },
  };
}

export type KbCache = ReturnType<typeof createKbCache>;
