/** crtool's public API: the image codec (runs anywhere) and Node file helpers. */
export * from "./images/index.js";
export { openImage, writeImageFile, type EntryToWrite } from "./io/image-files.js";
