/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * models/<preset>/manifest.json as models:export writes it and bench:sparse-inference reads it (the fields it reads are required; the provenance blocks are kept as written).
 */
export interface ModelsManifest {
  preset: string;
  arch: string;
  width: number;
  /**
   * @minItems 3
   * @maxItems 3
   */
  inputShape: [number, number, number];
  dataset: {
    name: string;
    source: string;
    testImages: number;
    [k: string]: unknown;
  };
  /**
   * @minItems 1
   */
  models: [
    {
      name: string;
      file: string;
      kind: "dense" | "unstructured" | "structured";
      method: string;
      nominalDensity: number;
      channelMultiple: number;
      convWeightDensity: number;
      macs: {
        dense: number;
        remaining: number;
      };
      macLayers: {}[];
      parameters: number;
      testAccuracy: number | null;
      check: {
        images: number;
        correct: number;
      };
      parityMaxAbsDiff: number;
      bytes: number;
      sha256: string;
      unit: string;
      [k: string]: unknown;
    },
    ...{
      name: string;
      file: string;
      kind: "dense" | "unstructured" | "structured";
      method: string;
      nominalDensity: number;
      channelMultiple: number;
      convWeightDensity: number;
      macs: {
        dense: number;
        remaining: number;
      };
      macLayers: {}[];
      parameters: number;
      testAccuracy: number | null;
      check: {
        images: number;
        correct: number;
      };
      parityMaxAbsDiff: number;
      bytes: number;
      sha256: string;
      unit: string;
      [k: string]: unknown;
    }[]
  ];
  [k: string]: unknown;
}
