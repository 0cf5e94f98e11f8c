// Names for the API's types. They all come from schema.d.ts, which openapi-typescript generates
// from the server's OpenAPI document (npm run gen): nothing here is written by hand.
import type { components } from "./schema";

type S = components["schemas"];
export type Agent = S["InboxAgent"];
export type Team = S["InboxTeam"];
export type Conversation = S["Conversation"];
export type InboxConversation = S["InboxConversation"];
export type Message = S["Message"];
export type Note = S["InboxNote"];
export type Contact = S["Contact"];
export type Run = S["Run"];
export type Step = S["Step"];
export type ApiError = S["Error"];
export type Canned = S["CannedResponse"];
