// The frame's texts in English, Spanish and Portuguese. {name} and {size} are replaced.
const en = {
  title: "Chat with us",
  connecting: "Connecting…",
  online: "We're online",
  queued: "Waiting for an agent…",
  assigned: "You're chatting with {name}",
  closed: "This conversation has ended",
  placeholder: "Write a message…",
  send: "Send",
  attach: "Attach a file",
  close: "Close chat",
  messages: "Messages",
  typing: "{name} is typing…",
  botTyping: "Typing…",
  you: "You",
  bot: "Assistant",
  agent: "Agent",
  sending: "Sending…",
  failed: "Not sent.",
  retry: "Retry",
  tooLarge: "The file is larger than {size}.",
  tooFast: "You are sending messages too fast; wait a moment.",
  offline: "You're offline. Messages will be sent when you're back.",
  notAllowed: "This chat is not available on this site.",
  loginRequired: "Please log in to chat with us.",
  unavailable: "The chat is not available right now.",
  error: "Something went wrong; try again.",
  file: "File",
  image: "Image",
  options: "Options",
  decimal: ".",
};

export type Texts = typeof en;

const es: Texts = {
  title: "Chatea con nosotros",
  connecting: "Conectando…",
  online: "Estamos en línea",
  queued: "Esperando a un agente…",
  assigned: "Estás hablando con {name}",
  closed: "Esta conversación ha terminado",
  placeholder: "Escribe un mensaje…",
  send: "Enviar",
  attach: "Adjuntar un archivo",
  close: "Cerrar chat",
  messages: "Mensajes",
  typing: "{name} está escribiendo…",
  botTyping: "Escribiendo…",
  you: "Tú",
  bot: "Asistente",
  agent: "Agente",
  sending: "Enviando…",
  failed: "No enviado.",
  retry: "Reintentar",
  tooLarge: "El archivo supera {size}.",
  tooFast: "Estás enviando mensajes muy rápido; espera un momento.",
  offline: "Sin conexión. Los mensajes se enviarán al volver.",
  notAllowed: "Este chat no está disponible en este sitio.",
  loginRequired: "Inicia sesión para chatear con nosotros.",
  unavailable: "El chat no está disponible ahora.",
  error: "Algo salió mal; inténtalo de nuevo.",
  file: "Archivo",
  image: "Imagen",
  options: "Opciones",
  decimal: ",",
};

const pt: Texts = {
  title: "Fale conosco",
  connecting: "Conectando…",
  online: "Estamos online",
  queued: "Aguardando um atendente…",
  assigned: "Você está falando com {name}",
  closed: "Esta conversa foi encerrada",
  placeholder: "Escreva uma mensagem…",
  send: "Enviar",
  attach: "Anexar um arquivo",
  close: "Fechar chat",
  messages: "Mensagens",
  typing: "{name} está digitando…",
  botTyping: "Digitando…",
  you: "Você",
  bot: "Assistente",
  agent: "Atendente",
  sending: "Enviando…",
  failed: "Não enviada.",
  retry: "Tentar de novo",
  tooLarge: "O arquivo é maior que {size}.",
  tooFast: "Você está enviando mensagens rápido demais; aguarde um momento.",
  offline: "Sem conexão. As mensagens serão enviadas quando voltar.",
  notAllowed: "Este chat não está disponível neste site.",
  loginRequired: "Entre na sua conta para falar conosco.",
  unavailable: "O chat não está disponível agora.",
  error: "Algo deu errado; tente de novo.",
  file: "Arquivo",
  image: "Imagem",
  options: "Opções",
  decimal: ",",
};

const all: Record<string, Texts> = { en, es, pt };

// pick returns the texts of a locale ("pt-BR" → pt), English when it has none.
export function pick(locale: string): [string, Texts] {
  const l = (locale || "en").slice(0, 2).toLowerCase();
  return all[l] ? [l, all[l]] : ["en", en];
}

export function fill(s: string, v: Record<string, string>): string {
  return s.replace(/\{(\w+)\}/g, (_, k) => v[k] ?? "");
}
