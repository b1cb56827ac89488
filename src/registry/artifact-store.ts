// The seam between the registry and where model files live: a folder by default, S3 at scale.
// Uploads are staged first and only committed after they were checked, so a failed or cut-off upload
// leaves nothing behind. Every implementation must pass test/registry/artifact-store.contract.ts.

export interface StagedArtifact {
  /** a local file holding the upload, readable by the runtime for checking */
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

export interface ArtifactStore {
  /** Writes the stream to a staging place; on any error (including over `limitBytes`) nothing remains. */
  stage(source: AsyncIterable<Uint8Array>, limitBytes: number): Promise<StagedArtifact>;
  /** Makes a staged file durable under `key`; the staged file is consumed. */
  commit(staged: StagedArtifact, key: string): Promise<void>;
  discard(staged: StagedArtifact): Promise<void>;
  /** A local path to a committed artifact (remote stores download to a cache first). */
  localPath(key: string): Promise<string>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Keys of every committed artifact, for garbage collection of files no version references. */
  list(): Promise<string[]>;
  /** Removes staging files a crash left behind. */
  sweepStaging(): Promise<void>;
}
